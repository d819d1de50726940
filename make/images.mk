# Images: the serving and pipeline images, built and tested through a Docker Engine API (docs/images.md).
# Without DOCKER_HOST set, the project runs its own Podman service on a socket under .cache/images/ (no
# Docker daemon is assumed); set DOCKER_HOST to use Docker or another engine instead.
IMAGES_CACHE := $(CURDIR)/.cache/images
PODMAN_SOCKET := $(IMAGES_CACHE)/podman.sock
DOCKER_HOST ?= unix://$(PODMAN_SOCKET)
export DOCKER_HOST
# Podman settings owned by the project (runc, cgroupfs; see the file) instead of editing /etc/containers.
export CONTAINERS_CONF := $(CURDIR)/infra/images/containers.conf
IMAGES_APT := podman runc docker-registry debootstrap
# root steps as a non-root user (GitHub's `runner`, the rehearsal's runner): passwordless sudo, never a prompt
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)

.PHONY: images-setup images-stop images-build images-smoke

images-setup: install ## Install Podman + registry + debootstrap if missing, start the engine socket, make the base image
	@if [[ "$$DOCKER_HOST" == "unix://$(PODMAN_SOCKET)" ]]; then \
	  missing=$$(for p in $(IMAGES_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [[ -n "$$missing" ]]; then \
	    echo "installing: $$missing"; \
	    $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing >/dev/null; \
	  fi; \
	  mkdir -p $(IMAGES_CACHE); \
	  if ! curl -sf --unix-socket $(PODMAN_SOCKET) http://d/_ping >/dev/null 2>&1; then \
	    rm -f $(PODMAN_SOCKET); \
	    setsid nohup $(SUDO) env CONTAINERS_CONF=$(CONTAINERS_CONF) podman system service --time=0 unix://$(PODMAN_SOCKET) \
	      >$(IMAGES_CACHE)/podman.log 2>&1 & \
	    echo $$! >$(IMAGES_CACHE)/podman.pid; \
	    for _ in $$(seq 50); do $(SUDO) test -S $(PODMAN_SOCKET) && break; sleep 0.2; done; \
	    $(if $(SUDO),$(SUDO) chown $$(id -u) $(PODMAN_SOCKET);) \
	    for _ in $$(seq 50); do curl -sf --unix-socket $(PODMAN_SOCKET) http://d/_ping >/dev/null 2>&1 && break; sleep 0.2; done; \
	  fi; \
	fi
	$(BIN)/mlrig image base
	@echo "engine: DOCKER_HOST=$$DOCKER_HOST"

images-stop: ## Stop the Podman service images-setup started
	@if [[ -f $(IMAGES_CACHE)/podman.pid ]]; then $(SUDO) kill $$(cat $(IMAGES_CACHE)/podman.pid) 2>/dev/null || true; rm -f $(IMAGES_CACHE)/podman.pid; fi

images-build: images-setup ## Build the serving image (from the latest Bento; `make demo` first) and the pipeline image
	$(BIN)/mlrig image build serving
	$(BIN)/mlrig image build pipeline

images-smoke: images-build ## Serve the serving image on 127.0.0.1, score one record, compare with the model, stop
	$(BIN)/mlrig image smoke

test: images-setup
