# The real engine (issues 11, 15): the Pulumi CLI, its Python host, the Kubernetes provider, etcd, the control plane,
# a real node (kubelet, kube-proxy, containerd, CNI plugins, CoreDNS, metrics-server) and kwok, built from their Go
# modules at the versions in tools/versions.env and cached under .cache/tools/<hash>/ (tools/README.md). Not part
# of `make test`; `.ci/run` runs `make e2e-infra` after it (cold build: tens of minutes; relinked from a warm Go
# build cache: a few minutes; already present: 0.06 s).
.PHONY: tools node-setup cluster cluster-kwok tools-smoke e2e-infra

# Debian packages the real node uses: runc (it needs libseccomp, i.e. cgo), iptables for kube-proxy and the CNI
# bridge's masquerading, conntrack for kube-proxy's UDP cleanup, the image registry the node pulls from.
NODE_APT := runc iptables conntrack docker-registry
# the registry host the stacks deploy from; the local node pulls it from its own registry (a mirror)
MIRROR = $(shell $(BIN)/python -c 'from pipelines.config import load_config as c; print(c().images.registry.split("/")[0])')

tools: ## Build the Pulumi CLI, Kubernetes provider, control plane and node from Go modules (cached by version)
	tools/build-tools.sh

node-setup: ## Install the Debian packages the real node needs (runc, iptables, conntrack, docker-registry)
	@missing=$$(for p in $(NODE_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [[ -n "$$missing" ]]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing >/dev/null; \
	fi

cluster: tools install node-setup ## Local cluster with a real node on this host (prints the kubeconfig); Ctrl-C stops and cleans it
	$(BIN)/python -m tools.cluster up --mirror $(MIRROR)

cluster-kwok: tools install ## Local control plane with kwok's simulated node (scale tests: nothing runs); Ctrl-C stops it
	$(BIN)/python -m tools.cluster up --node kwok

tools-smoke: tools install ## Cluster (kwok) up, a Deployment and a Job, pulumi up/preview/destroy of a tiny stack, down
	$(BIN)/python tools/smoke.py

e2e-infra: tools install node-setup images-setup ## pulumi up of the four projects on a real local node; workloads checked; destroyed
	$(BIN)/pytest -p no:cacheprovider --no-cov -o testpaths=tests/e2e -v tests/e2e
