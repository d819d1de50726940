# infra: the Pulumi projects (infra/) checked without a cluster or the Pulumi CLI.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .cache/checkov-$(CHECKOV_VERSION)
CHECKOV := $(CHECKOV_VENV)/bin/checkov
INFRA_OUT := .cache/infra

.PHONY: infra-check infra-test infra-render infra-scan checkov

# `make test` runs pytest over tests/ (the infra unit tests included), so it adds only the render and the scan.
test: infra-scan

# ~290 MB of dependencies: its own environment, never the project's.
$(CHECKOV): | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python checkov==$(CHECKOV_VERSION)

checkov: $(CHECKOV) ## Install checkov (pinned) in its own venv under .cache/

infra-test: install ## Unit tests of the Pulumi programs, components and policy pack (Pulumi mocks, no cluster)
	$(BIN)/pytest -q -p no:cacheprovider --no-cov tests/unit/infra

infra-render: install ## Render every object of every project and stack to YAML; kubernetes-validate strict
	rm -rf $(INFRA_OUT)/manifests
	$(BIN)/python -m infra.check $(INFRA_OUT)/manifests

infra-scan: infra-render $(CHECKOV) ## checkov's Kubernetes checks over the rendered objects (skips justified in infra/checkov.yaml)
	$(CHECKOV) --config-file infra/checkov.yaml -d $(INFRA_OUT)/manifests -o json > $(INFRA_OUT)/checkov.json
	$(BIN)/python -m infra.check --checkov-report $(INFRA_OUT)/checkov.json infra/checkov.yaml

infra-check: infra-test infra-scan ## All infra checks: unit tests, schema validation, checkov (part of `make test`)
