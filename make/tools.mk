# The real engine (issue 11): the Pulumi CLI, its Python host, the Kubernetes provider, etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok, built from their Go modules at the versions in
# tools/versions.env and cached under .cache/tools/<hash>/ (tools/README.md). Not part of `make test`; `.ci/run`
# runs `make e2e-infra` after it and builds the tools within what is left of CI's budget (cold: tens of minutes;
# relinked from a warm Go build cache: ~75 s; already present: 0.06 s).
.PHONY: tools cluster tools-smoke

tools: ## Build the Pulumi CLI, Kubernetes provider and a local control plane from Go modules (cached by version)
	tools/build-tools.sh

cluster: tools ## Run a local Kubernetes control plane (etcd, API server, controllers, kwok) on 127.0.0.1 until Ctrl-C
	$(PYTHON) tools/cluster.py up

tools-smoke: tools ## Cluster up, a Deployment and a Job ready under kwok, pulumi up/preview/destroy of a tiny stack, down
	$(PYTHON) tools/smoke.py

.PHONY: e2e-infra
e2e-infra: tools install ## pulumi up of platform, data, ml, serving on a local cluster with the real engine; checked; destroyed
	$(BIN)/pytest -p no:cacheprovider --no-cov -o testpaths=tests/e2e -v tests/e2e
