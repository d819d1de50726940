# CI/CD verbs: what .github/workflows/*.yml run, step by step, so every step also runs on a laptop.
# docs/cicd.md says which workflow calls which target, and which targets other areas provide.

# the sample run's work folder: CI never touches your .mlrig/
CI_WORK ?= .cache/ci-work
# big enough for the gate to judge (at 3,000 rows, ~85 test rows per country, its slice-gap rule judges noise),
# small enough for a PR run
CI_ROWS ?= 20000
# `pulumi preview --json` per project, read by `mlrig pr-comment`
PREVIEW_DIR ?= .cache/preview
PULUMI_PROJECTS ?= platform data ml serving
STACK ?= dev
URL ?= http://127.0.0.1:$(PORT)
TAG ?= $(shell git rev-parse HEAD 2>/dev/null)
# the release's digests (CD passes the release job's outputs); empty → deploy by tag
SERVING_DIGEST ?=
PIPELINE_DIGEST ?=
# where release-images pushes (default: [images] registry, where the stacks pull; the rehearsal pushes to the local
# registry its node mirrors [images] registry from). Deploys always name [images] registry: one home.
PUSH_REGISTRY ?=
REGISTRY_FLAG = $(if $(PUSH_REGISTRY),--registry $(PUSH_REGISTRY),)
# every image name comes from `mlrig image-ref` (pipelines/release/images.py), evaluated only when used
IMAGE ?= $(shell $(BIN)/mlrig image-ref serving --tag $(TAG) --local)
DEPLOYED_IMAGE ?= $(shell $(BIN)/mlrig image-ref serving --tag $(TAG))
# where `mlrig pr-comment` finds the gate's verdict: the one `make bento` wrote
RELEASE_ENV_FILE ?= .cache/release.env
KIND_CLUSTER ?= mlrig-e2e
# where the serving project puts the Service: named [serving] service_name, like everything infra/serving makes
E2E_NAMESPACE ?= mlrig
E2E_SERVICE ?= $(shell $(BIN)/python -m mlrig_cli.config get serving.service_name)
E2E_PORT ?= 3300
# A local (file) backend's secrets need a passphrase; the e2e cluster is thrown away, so a fixed one is fine.
E2E_PULUMI_PASSPHRASE ?= mlrig-e2e-throwaway

.PHONY: workflow-lint audit data-check bento service-name preview pr-comment smoke deploy rollback release-bento release-images \
	kind-up kind-smoke kind-down
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

# the gate writes its verdict to <work>/reports/gate.json (the PR comment reads it) and fails the run when the
# model does not pass; only a model that passed is packaged
bento: install ## Train on the sample (after data-check), gate it, build the Bento from the champion
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig train
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig gate
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig build

# A workflow step reads the name instead of spelling it: `id: names` then `${{ steps.names.outputs.service }}`.
service-name: install ## Write service=<[serving] service_name> to $GITHUB_OUTPUT (stdout outside Actions)
	@echo "service=$$($(BIN)/python -m mlrig_cli.config get serving.service_name)" >> "$${GITHUB_OUTPUT:-/dev/stdout}"

# Without credentials (a fork's pull request) this prints a GitHub notice and succeeds: a preview is
# information for reviewers, not a gate. PULUMI_BACKEND_URL covers self-managed backends (s3://, file://).
# The policy pack runs on every preview, as on every `mlrig deploy`; images come from each stack's state.
preview: install ## pulumi preview --json of every project (STACK=dev), policy pack on, into .cache/preview/
	@mkdir -p $(PREVIEW_DIR)
	@if [ -z "$${PULUMI_ACCESS_TOKEN:-}$${PULUMI_BACKEND_URL:-}" ]; then \
	  echo "::notice title=pulumi preview skipped::no PULUMI_ACCESS_TOKEN or PULUMI_BACKEND_URL in this run (a fork, or Pulumi not set up: docs/cicd.md)"; \
	  exit 0; \
	fi; \
	for project in $(PULUMI_PROJECTS); do \
	  echo "pulumi preview: infra/$$project ($(STACK))"; \
	  pulumi preview --cwd infra/$$project --stack $(STACK) --policy-pack $(CURDIR)/infra/policy --json \
	    --non-interactive > $(PREVIEW_DIR)/$$project.json; \
	done

pr-comment: install ## Render the pull-request comment from this run's artifacts into .cache/pr-comment.md
	MLRIG_WORK_DIR=$(abspath $(CI_WORK)) $(BIN)/mlrig pr-comment --preview-dir $(PREVIEW_DIR) --out .cache/pr-comment.md
	@# in GitHub Actions the run's summary page shows it too (the only place a fork's PR can see it)
	@if [ -n "$${GITHUB_STEP_SUMMARY:-}" ]; then cat .cache/pr-comment.md >> "$$GITHUB_STEP_SUMMARY"; fi

# the key comes from $$MLRIG_API_KEY (a secret of the environment in CD), never from the command line
smoke: install ## Smoke + latency check of a running service (URL=http://…, $$MLRIG_API_KEY)
	$(BIN)/mlrig smoke --url $(URL)

# The lake's champion (MLRIG_LAKE_URL: where the cluster's gate promotes), not a model trained on CI's sample.
release-bento: install ## Package the lake's champion as the Bento (fails when no model passed the gate)
	$(BIN)/mlrig build

# Build, push (to PUSH_REGISTRY or [images] registry) and write each image's digest and full reference as
# `<kind>-digest=` / `<kind>-image=` lines to $$GITHUB_OUTPUT (CD's job outputs) and $(RELEASE_ENV_FILE).
release-images: images-setup ## Build + push the serving and pipeline images tagged TAG; digests → $$GITHUB_OUTPUT
	@mkdir -p $(dir $(RELEASE_ENV_FILE)); : > $(RELEASE_ENV_FILE)
	for kind in serving pipeline; do \
	  $(BIN)/mlrig image build $$kind --tag $(TAG); \
	  pushed=$$($(BIN)/mlrig image push $$kind --tag $(TAG) $(REGISTRY_FLAG) | tail -n 1); \
	  digest=$${pushed##*@}; \
	  echo "$$kind-digest=$$digest" >> $(RELEASE_ENV_FILE); \
	  echo "$$kind-image=$$($(BIN)/mlrig image-ref $$kind --tag $(TAG) --digest $$digest $(REGISTRY_FLAG))" >> $(RELEASE_ENV_FILE); \
	done
	@cat $(RELEASE_ENV_FILE)
	@if [ -n "$${GITHUB_OUTPUT:-}" ]; then cat $(RELEASE_ENV_FILE) >> "$$GITHUB_OUTPUT"; fi

deploy: install ## pulumi up platform → data → ml → serving on STACK with release TAG (+ digests), policy pack on
	$(BIN)/mlrig deploy --stack $(STACK) --tag $(TAG) \
	  $(if $(SERVING_DIGEST),--serving-digest $(SERVING_DIGEST),) $(if $(PIPELINE_DIGEST),--pipeline-digest $(PIPELINE_DIGEST),)

rollback: install ## pulumi up serving on STACK with the image the last deploy replaced
	$(BIN)/mlrig rollback --stack $(STACK)

# kind end-to-end: a throwaway cluster (made by helm/kind-action in CI, or `kind create cluster` here),
# a local Pulumi backend under .cache/, all four projects up on `dev`, a smoke through the Service, destroy.
kind-up: install ## kind e2e: load both images into kind, pulumi up platform → data → ml → serving on dev (local backend)
	for kind in serving pipeline; do \
	  docker tag $$($(BIN)/mlrig image-ref $$kind --tag $(TAG) --local) $$($(BIN)/mlrig image-ref $$kind --tag $(TAG)); \
	  kind load docker-image $$($(BIN)/mlrig image-ref $$kind --tag $(TAG)) --name $(KIND_CLUSTER); \
	done
	mkdir -p .cache/pulumi-state
	pulumi login file://$(abspath .cache/pulumi-state)
	for project in $(PULUMI_PROJECTS); do \
	  PULUMI_CONFIG_PASSPHRASE=$(E2E_PULUMI_PASSPHRASE) pulumi stack select --create dev --cwd infra/$$project; \
	done
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

# --- the workflow files themselves, run by act on this host (tools/act/, docs/cicd.md) ---------------------------
ACT_USER ?= mlrig-runner
ACT_OUT ?= $(CURDIR)/.cache/act
ACT_JOBS ?=
ACT_TOOLS = pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-kubernetes act
ACT_SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)

.PHONY: act-runner act-plugins ci-act rehearse

# GitHub's hosted jobs run as the non-root user `runner` with passwordless sudo; the local runs mirror that.
act-runner: ## The non-root runner user act runs jobs as (passwordless sudo, like GitHub's `runner`); idempotent
	@command -v sudo >/dev/null || { $(ACT_SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(ACT_SUDO) apt-get install -y -q sudo >/dev/null; }
	@id -u $(ACT_USER) >/dev/null 2>&1 || $(ACT_SUDO) useradd --create-home --shell /bin/bash $(ACT_USER)
	@printf '%s ALL=(ALL) NOPASSWD:ALL\n' $(ACT_USER) > .cache/sudoers.$(ACT_USER)
	@$(ACT_SUDO) visudo -cqf .cache/sudoers.$(ACT_USER)
	@$(ACT_SUDO) install -m 0440 -o root -g root .cache/sudoers.$(ACT_USER) /etc/sudoers.d/$(ACT_USER)
	@rm -f .cache/sudoers.$(ACT_USER)
	@$(ACT_SUDO) mkdir -p $(ACT_OUT) && $(ACT_SUDO) chown $(ACT_USER): $(ACT_OUT)
	@sudo -n -u $(ACT_USER) sudo -n true && echo "runner: $(ACT_USER) (uid $$(id -u $(ACT_USER))), passwordless sudo"

# The pull-request workflow as GitHub runs it: `ci.yml` on a pull_request event, every job (ACT_JOBS=… for some),
# previews against the file backend under $(ACT_OUT) (PULUMI_BACKEND_URL, what `pulumi login file://DIR` selects).
# the runner's own copy of the Kubernetes provider plugin (the tools' pulumi-home is root's, mode 0700)
act-plugins: act-runner
	tools/build-tools.sh $(ACT_TOOLS)
	$(ACT_SUDO) sudo -n -u $(ACT_USER) mkdir -p ~$(ACT_USER)/.pulumi/plugins
	$(ACT_SUDO) cp -a $$(tools/build-tools.sh --print-dir)/pulumi-home/plugins/. ~$(ACT_USER)/.pulumi/plugins/
	$(ACT_SUDO) chown -R $(ACT_USER): ~$(ACT_USER)/.pulumi

ci-act: install act-plugins ## Run .github/workflows/ci.yml with act (pull_request) as the runner user; PR comment → $(ACT_OUT)/ci/
	PULUMI_CONFIG_PASSPHRASE=$${PULUMI_CONFIG_PASSPHRASE:-$(E2E_PULUMI_PASSPHRASE)} \
	  $(BIN)/python -m tools.act.run .github/workflows/ci.yml --event pull_request --out $(ACT_OUT)/ci \
	  --tools-bin $$(tools/build-tools.sh --print-dir)/bin --user $(ACT_USER) $(foreach job,$(ACT_JOBS),--job $(job)) \
	  --env PULUMI_BACKEND_URL=file://$(ACT_OUT)/pulumi-state \
	  --secret PULUMI_CONFIG_PASSPHRASE

# The phases it plays, what stands in and why: tools/rehearsal/__main__.py, docs/cicd.md. REHEARSE_PR_JOBS=preview
# runs only those ci.yml jobs (`.ci/run` leaves out `test`, whose `make test` it has just run at the same commit, and
# says so through REHEARSE_TEST_NOTE); the default runs every job.
REHEARSE_PR_JOBS ?=
REHEARSE_TEST_NOTE ?=
rehearse: install act-plugins node-setup images-setup ## The workflow files through a repository's life (act, local cluster): PR → merge → staging → prod → rollback → failed gate
	nice -n 10 $(BIN)/python -m tools.rehearsal --out $(ACT_OUT)/rehearsal --user $(ACT_USER) \
	  --tools-bin $$(tools/build-tools.sh --print-dir)/bin $(if $(REHEARSE_PR_JOBS),--pr-jobs $(REHEARSE_PR_JOBS),) \
	  $(if $(REHEARSE_TEST_NOTE),--test-job-note "$(REHEARSE_TEST_NOTE)",)
