# Monitoring: drift, outcomes, dashboard. The dashboard test opens the page in a real headless Chromium.
.PHONY: monitor-setup

# Debian's chromium renders the dashboard in tests; installed once per machine (root, as on CI machines).
monitor-setup: ## Install Debian's chromium for the dashboard's browser test
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "monitor-setup: install Debian's chromium (sudo apt-get install chromium) and re-run" >&2; exit 1; fi; }

test: monitor-setup
