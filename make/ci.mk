# CI/CD verbs: what .github/workflows/*.yml run, step by step, so every step also runs on a laptop.
# docs/cicd.md says which workflow calls which target, and which targets other areas provide.

# the sample run's work folder: CI never touches your .mlrig/
CI_WORK ?= .cache/ci-work
# big enough to train, small enough for a PR run (< 1 min)
CI_ROWS ?= 3000
# `pulumi preview --json` per project, read by `mlrig pr-comment`
PREVIEW_DIR ?= .cache/preview
PULUMI_PROJECTS ?= platform data ml serving
STACK ?= dev
URL ?= http://127.0.0.1:$(PORT)
TAG ?= $(shell git rev-parse HEAD 2>/dev/null)
# `mlrig image build serving --tag TAG` names the image <serving.service_name>:TAG; the stacks deploy
# <images.registry>/<serving.service_name>:TAG. Both names come from mlrig.toml (evaluated only when used).
IMAGE ?= $(shell $(BIN)/python -c 'from pipelines.config import load_config as c; print(c().serving.service_name)')
DEPLOYED_IMAGE ?= $(shell $(BIN)/python -c 'from pipelines.config import load_config as l; c = l(); print(f"{c.images.registry}/{c.serving.service_name}")')
KIND_CLUSTER ?= mlrig-e2e
# where the serving project puts the Service: named [serving] service_name, like everything infra/serving makes
E2E_NAMESPACE ?= mlrig
E2E_SERVICE ?= $(shell $(BIN)/python -m mlrig_cli.config get serving.service_name)
E2E_PORT ?= 3300
# A local (file) backend's secrets need a passphrase; the e2e cluster is thrown away, so a fixed one is fine.
E2E_PULUMI_PASSPHRASE ?= mlrig-e2e-throwaway

.PHONY: workflow-lint audit data-check bento service-name preview pr-comment smoke deploy rollback kind-up kind-smoke kind-down
test: workflow-lint

WORKFLOWS := $(wildcard .github/workflows/*.yml)

# actionlint finds shellcheck on PATH and checks every `run:` script with it; zizmor is the security audit
# (offline: no GitHub API calls). Both fail on any finding; `--min-severity medium` keeps zizmor's
# informational notes (e.g. "consider a higher pin") from failing the build.
workflow-lint: install ## actionlint (+ shellcheck on run scripts) and zizmor (offline) on the workflows
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/actionlint -color $(WORKFLOWS)
	$(BIN)/zizmor --offline --min-severity medium --no-progress .github/

audit: install ## pip-audit: known vulnerabilities in the locked dependencies (needs network)
	@mkdir -p .cache
	$(UV) export --frozen --format requirements-txt --no-emit-project --no-hashes > .cache/requirements-audit.txt
	$(BIN)/pip-audit --requirement .cache/requirements-audit.txt --no-deps --disable-pip --progress-spinner off

data-check: install ## Data sanity on a sample: demo drops → bronze → silver (contract, quarantine) → gold
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig generate --rows $(CI_ROWS) --days 2
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig ingest
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig refine
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig features

bento: install ## Train on the sample (after data-check) and build the Bento
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig train
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig build

# A workflow step reads the name instead of spelling it: `id: names` then `${{ steps.names.outputs.service }}`.
service-name: install ## Write service=<[serving] service_name> to $GITHUB_OUTPUT (stdout outside Actions)
	@echo "service=$$($(BIN)/python -m mlrig_cli.config get serving.service_name)" >> "$${GITHUB_OUTPUT:-/dev/stdout}"

# Without credentials (a fork's pull request) this prints a GitHub notice and succeeds: a preview is
# information for reviewers, not a gate. PULUMI_BACKEND_URL covers self-managed backends (s3://, file://).
preview: install ## pulumi preview --json of every project (STACK=dev) into .cache/preview/
	@mkdir -p $(PREVIEW_DIR)
	@if [ -z "$${PULUMI_ACCESS_TOKEN:-}$${PULUMI_BACKEND_URL:-}" ]; then \
	  echo "::notice title=pulumi preview skipped::no PULUMI_ACCESS_TOKEN or PULUMI_BACKEND_URL in this run (a fork, or Pulumi not set up: docs/cicd.md)"; \
	  exit 0; \
	fi; \
	for project in $(PULUMI_PROJECTS); do \
	  echo "pulumi preview: infra/$$project ($(STACK))"; \
	  pulumi preview --cwd infra/$$project --stack $(STACK) --json --non-interactive > $(PREVIEW_DIR)/$$project.json; \
	done

pr-comment: install ## Render the pull-request comment from this run's artifacts into .cache/pr-comment.md
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig pr-comment --preview-dir $(PREVIEW_DIR) --out .cache/pr-comment.md
	@# in GitHub Actions the run's summary page shows it too (the only place a fork's PR can see it)
	@if [ -n "$${GITHUB_STEP_SUMMARY:-}" ]; then cat .cache/pr-comment.md >> "$$GITHUB_STEP_SUMMARY"; fi

smoke: install ## Smoke + latency check of a running service (URL=http://…)
	$(BIN)/mlrig smoke --url $(URL)

deploy: install ## pulumi up the serving project with image TAG on STACK, recording the tag it replaces
	$(BIN)/mlrig deploy --stack $(STACK) --tag $(TAG)

rollback: install ## pulumi up the serving project on STACK with the tag the last deploy replaced
	$(BIN)/mlrig rollback --stack $(STACK)

# kind end-to-end: a throwaway cluster (made by helm/kind-action in CI, or `kind create cluster` here),
# a local Pulumi backend under .cache/, all four projects up on `dev`, a smoke through the Service, destroy.
kind-up: install ## kind e2e: load IMAGE:TAG into kind, pulumi up platform, data, ml, serving on dev (local backend)
	docker tag $(IMAGE):$(TAG) $(DEPLOYED_IMAGE):$(TAG)
	kind load docker-image $(DEPLOYED_IMAGE):$(TAG) --name $(KIND_CLUSTER)
	mkdir -p .cache/pulumi-state
	pulumi login --local --cloud-url file://$(abspath .cache/pulumi-state)
	for project in $(filter-out serving,$(PULUMI_PROJECTS)); do \
	  PULUMI_CONFIG_PASSPHRASE=$(E2E_PULUMI_PASSPHRASE) pulumi stack select --create dev --cwd infra/$$project; \
	  PULUMI_CONFIG_PASSPHRASE=$(E2E_PULUMI_PASSPHRASE) pulumi up --yes --skip-preview --stack dev --cwd infra/$$project; \
	done
	PULUMI_CONFIG_PASSPHRASE=$(E2E_PULUMI_PASSPHRASE) pulumi stack select --create dev --cwd infra/serving
	PULUMI_CONFIG_PASSPHRASE=$(E2E_PULUMI_PASSPHRASE) $(BIN)/mlrig deploy --stack dev --tag $(TAG)

kind-smoke: install ## kind e2e: smoke + latency through the Service (kubectl port-forward)
	kubectl -n $(E2E_NAMESPACE) rollout status deployment/$(E2E_SERVICE) --timeout=300s
	kubectl -n $(E2E_NAMESPACE) port-forward service/$(E2E_SERVICE) $(E2E_PORT):http > .cache/port-forward.log 2>&1 & \
	  forward=$$!; trap 'kill $$forward' EXIT; sleep 3; \
	  $(BIN)/mlrig smoke --url http://127.0.0.1:$(E2E_PORT)

kind-down: install ## kind e2e: pulumi destroy every project on dev, serving first
	for project in serving ml data platform; do \
	  PULUMI_CONFIG_PASSPHRASE=$(E2E_PULUMI_PASSPHRASE) pulumi destroy --yes --skip-preview --stack dev --cwd infra/$$project || status=1; \
	done; exit $${status:-0}
