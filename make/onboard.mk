# Bring your own data: `mlrig init` proposes a contract; this measures its PII detection.
.PHONY: pii-eval

pii-eval: install ## Precision and recall of PII detection on a labelled set of columns with look-alikes
	$(BIN)/python -m pipelines.onboard.pii_eval
