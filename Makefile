# mlrig: the verbs people and workflows call. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
UV_VERSION := 0.13.9
UV_HOME := .cache/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3000
KEEP_SERVING ?= 1
ROWS ?= 20000

export UV_PROJECT_ENVIRONMENT := $(VENV)
export BENTOML_DO_NOT_TRACK := true

.PHONY: help install demo stop lint format test

help: ## List the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The stamp is newer than the lock once the venv matches it. `--seed` puts pip in the venv: Pulumi's Python
# language host lists plugins with `python -m pip list`.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) venv --seed --allow-existing --quiet --python $(PYTHON) $(VENV)
	$(UV) sync --frozen
	touch $@

install: $(VENV)/.synced ## Create .venv from uv.lock (exact versions, every time)

demo: install ## Run every stage on demo data, serve, predict over HTTP (KEEP_SERVING=0 stops the server after)
	$(BIN)/mlrig demo --rows $(ROWS) --port $(PORT) $(if $(filter 0,$(KEEP_SERVING)),--no-keep-serving,)

stop: install ## Stop the service `make demo` left running
	$(BIN)/mlrig stop

lint: install ## ruff lint and format check; import-linter: layers only point down, no cycles (docs/architecture.md)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint ## Lint, then every test with the coverage gate (fails under 85 %)
	$(BIN)/pytest --cov --cov-report=term --cov-report=xml:.cache/coverage.xml

# Each area (data, ml, serving, images, infra, ci) adds its verbs in make/<area>.mk; an area whose checks
# belong in `make test` adds itself as a prerequisite there (`test: infra-check`).
include $(wildcard make/*.mk)
