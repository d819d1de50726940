# `make test` as GitHub's hosted runner runs it: as a non-root user with passwordless sudo (`runner` there,
# $(ACT_USER) here, made by `make act-runner`), in a clone that user owns (what actions/checkout gives a job).
# Root passes checks a non-root user fails (file modes, root-owned caches, HOME, paths of another length), so a
# green `make test` as root says little about CI. Not part of `make test`: it *is* `make test` again (12–25 min on
# 2 cores); run it after a change to the Makefile, CI, caches, paths or anything that needs sudo. It tests the
# committed HEAD: uncommitted changes are not in the clone.
RUNNER_HOME = $(shell getent passwd $(ACT_USER) | cut -d: -f6)
RUNNER_CLONE ?= $(RUNNER_HOME)/mlrig-suite
RUNNER_TARGETS ?= test
# this machine's CA and proxy settings reach the runner as tools/act/run.py passes them (one list, there)
RUNNER_ENV = $(shell $(BIN)/python -c 'import os; from tools.act.run import PASSED_ENV as P; print(",".join(n for n in P if n in os.environ))')
AS_RUNNER = $(ACT_SUDO) sudo -n -u $(ACT_USER) -H --preserve-env=$(RUNNER_ENV)
# the runner reads this root-owned repository: git (2.39) honours safe.directory only from a global/system file
RUNNER_GITCONFIG = $(CURDIR)/.cache/runner.gitconfig
RUNNER_GIT = $(AS_RUNNER) env GIT_CONFIG_GLOBAL=$(RUNNER_GITCONFIG) git

.PHONY: test-as-runner

test-as-runner: install act-runner ## `make test` as the non-root runner with passwordless sudo (GitHub's `runner`), in its own clone of HEAD
	@mkdir -p .cache && printf '[safe]\n\tdirectory = *\n' > $(RUNNER_GITCONFIG) && chmod 644 $(RUNNER_GITCONFIG)
	@$(AS_RUNNER) test -d $(RUNNER_CLONE)/.git || $(RUNNER_GIT) clone -q $(CURDIR) $(RUNNER_CLONE)
	@$(RUNNER_GIT) -C $(RUNNER_CLONE) fetch -q $(CURDIR) HEAD
	@$(RUNNER_GIT) -C $(RUNNER_CLONE) checkout -q --detach FETCH_HEAD
	@$(RUNNER_GIT) -C $(RUNNER_CLONE) clean -fdq
	@echo "as $(ACT_USER) (uid $$(id -u $(ACT_USER))) in $(RUNNER_CLONE) at $$(git rev-parse --short HEAD): make $(RUNNER_TARGETS)"
	@start=$$(date +%s); status=0; \
	$(AS_RUNNER) make -C $(RUNNER_CLONE) $(RUNNER_TARGETS) || status=$$?; \
	$(AS_RUNNER) make -C $(RUNNER_CLONE) images-stop >/dev/null || true; \
	echo "runner suite: make $(RUNNER_TARGETS) as $(ACT_USER): exit $$status in $$(( $$(date +%s) - start )) s"; \
	exit $$status
