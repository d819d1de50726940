#!/usr/bin/env bash
# Build mlrig's external tools (Pulumi CLI + Python language host, the Pulumi
# Kubernetes provider, kube-apiserver/-controller-manager/-scheduler, etcd,
# kwok) from Go modules, pinned by tools/versions.env and the wrapper modules
# under tools/go/<group>/.
#
# Output: ${MLRIG_TOOLS_DIR:-<repo>/.cache/tools/<hash>}/bin, where <hash>
# covers versions.env and every go.mod/go.sum/*.go under tools/go. A binary
# already present there is not rebuilt (a warm run takes seconds).
# The kubernetes provider is also installed as a Pulumi plugin into
# <tools dir>/pulumi-home (use it as PULUMI_HOME).
#
# Usage: tools/build-tools.sh            build what is missing
#        tools/build-tools.sh --print-dir print the tools dir and exit
#        tools/build-tools.sh ONLY...     build only the named binaries
#
# Go's own GOCACHE/GOMODCACHE stay at their defaults (outside the repo) so a
# fresh clone on the same machine rebuilds quickly.
set -euo pipefail

TOOLS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$TOOLS_SRC")
# shellcheck source=versions.env
source "$TOOLS_SRC/versions.env"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
# Keep the other engineers' work on a 2-core machine responsive.
NICE=(nice -n 10)

tools_hash() {
	(
		cd "$TOOLS_SRC"
		find versions.env go -type f \( -name go.mod -o -name go.sum -o -name '*.go' -o -name versions.env \) |
			LC_ALL=C sort | xargs sha256sum
	) | sha256sum | cut -c1-16
}

TOOLS_DIR=${MLRIG_TOOLS_DIR:-$REPO_ROOT/.cache/tools/$(tools_hash)}
BIN=$TOOLS_DIR/bin

if [[ ${1:-} == --print-dir ]]; then
	echo "$TOOLS_DIR"
	exit 0
fi
ONLY=("$@")

mkdir -p "$BIN"
echo "tools dir: $TOOLS_DIR"

wanted() { # NAME: is NAME selected (no args = all)?
	[[ ${#ONLY[@]} -eq 0 ]] && return 0
	local n
	for n in "${ONLY[@]}"; do [[ $n == "$1" ]] && return 0; done
	return 1
}

SUMMARY=()
# build NAME WRAPPER_DIR PKG LDFLAGS [TAGS]: go build PKG inside WRAPPER_DIR into $OUT (default bin/).
build() {
	local name=$1 dir=$2 pkg=$3 ldflags=$4 tags=${5:-}
	local BIN=${OUT:-$BIN}
	wanted "$name" || return 0
	mkdir -p "$BIN"
	if [[ -x $BIN/$name ]]; then
		SUMMARY+=("$name: present, skipped")
		return 0
	fi
	echo "==> building $name ($pkg)"
	local t0=$SECONDS
	(
		cd "$dir"
		"${NICE[@]}" go build -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$BIN/.$name.tmp" "$pkg"
	)
	mv -f "$BIN/.$name.tmp" "$BIN/$name"
	local dt=$((SECONDS - t0))
	echo "    $name built in ${dt}s"
	SUMMARY+=("$name: built in ${dt}s")
}

moddir() { # WRAPPER_DIR MODULE: the module's directory in GOMODCACHE
	(cd "$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2")
}

G=$TOOLS_SRC/go

# --- Pulumi CLI -----------------------------------------------------------
PULUMI_VER_PKG=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
build pulumi "$G/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
	"-s -w -X $PULUMI_VER_PKG=v$PULUMI_VERSION" osusergo,grpcnotrace

# --- Python language host (from sdk/v3 at PULUMI_LANGHOST_SDK_VERSION) -------
build pulumi-language-python "$G/pulumi-langhost" \
	github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python \
	"-s -w -X $PULUMI_VER_PKG=v$PULUMI_LANGHOST_SDK_VERSION" osusergo,grpcnotrace
if wanted pulumi-language-python-exec && [[ ! -f $BIN/pulumi-language-python-exec ]]; then
	# The host refuses to start unless this shim lies next to it. Take it from
	# sdk/v3 at the CLI/wheel version (the wheel does not ship it).
	sdk=$(moddir "$G/pulumi" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")
	install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
	SUMMARY+=("pulumi-language-python-exec: copied from sdk/v3@v$PULUMI_VERSION")
fi

# --- Pulumi Kubernetes provider ---------------------------------------------
# main.go embeds files that are gitignored upstream (absent from the module
# zip): generate them with gen/ next to a copy of the wrapper, build there.
if wanted pulumi-resource-kubernetes && [[ ! -x $BIN/pulumi-resource-kubernetes ]]; then
	prov=$(moddir "$G/k8s-provider" "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_K8S_PROVIDER_PSEUDO")
	src=$TOOLS_DIR/src/k8s-provider
	rm -rf "$src" && mkdir -p "$src"
	cp "$G/k8s-provider/go.mod" "$G/k8s-provider/go.sum" "$G/k8s-provider/main.go" "$src/"
	t0=$SECONDS
	(cd "$G/k8s-provider" && "${NICE[@]}" go run ./gen "$prov/cmd/pulumi-resource-kubernetes" "$src" "$PULUMI_K8S_VERSION")
	SUMMARY+=("pulumi-resource-kubernetes embed files generated in $((SECONDS - t0))s")
	build pulumi-resource-kubernetes "$src" . \
		"-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_K8S_VERSION"
fi

# --- Kubernetes control plane -------------------------------------------------
kv=${KUBERNETES_VERSION#v}
kmaj=${kv%%.*}
kmin=${kv#*.}
kmin=${kmin%%.*}
K8S_LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	K8S_LDFLAGS+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=$kmaj -X $p.gitMinor=$kmin"
	K8S_LDFLAGS+=" -X $p.gitTreeState=clean -X $p.buildDate=$KUBERNETES_BUILD_DATE"
done
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
	build "$c" "$G/kube" "k8s.io/kubernetes/cmd/$c" "$K8S_LDFLAGS"
done

# --- the real node: container runtime, CNI plugins, cluster DNS, metrics ------
# containerd without the snapshotters that need cgo or kernel features we do not use (overlayfs is enough).
CTRD_LDFLAGS="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
for c in containerd containerd-shim-runc-v2 ctr; do
	build "$c" "$G/containerd" "github.com/containerd/containerd/v2/cmd/$c" "$CTRD_LDFLAGS" \
		no_btrfs,no_devmapper,no_zfs,no_aufs
done
# CNI plugins go to their own dir: the CNI runtime looks plugins up by name in one folder.
for c in main/bridge main/loopback ipam/host-local meta/portmap; do
	OUT=$TOOLS_DIR/cni-bin build "$(basename "$c")" "$G/cni" \
		"github.com/containernetworking/plugins/plugins/$c" \
		"-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION"
done
build coredns "$G/coredns" . \
	"-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION"
build metrics-server "$G/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server \
	"-s -w -X sigs.k8s.io/metrics-server/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
# the object store's stand-in (server + the `mc` subset the bucket Job uses) for where MinIO cannot be pulled
OUT=$TOOLS_DIR/objstore build server "$G/objstore" ./server "-s -w"
OUT=$TOOLS_DIR/objstore build mc "$G/objstore" ./mc "-s -w"
# the pod sandbox's "pause" process: our own 20 lines (no registry here serves registry.k8s.io/pause)
build pause "$G/pause" . "-s -w"


# --- etcd -------------------------------------------------------------------
build etcd "$G/etcd" go.etcd.io/etcd/server/v3 \
	"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
build etcdctl "$G/etcd" go.etcd.io/etcd/etcdctl/v3 \
	"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"

# --- kwok -------------------------------------------------------------------
build kwok "$G/kwok" sigs.k8s.io/kwok/cmd/kwok \
	"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
if wanted kwok; then
	# Stage definitions kwok needs (it runs no stage by default).
	stg=$(moddir "$G/kwok" "sigs.k8s.io/kwok@$KWOK_VERSION")/kustomize/stage
	mkdir -p "$TOOLS_DIR/kwok-stages"
	for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		install -m 0644 "$stg/$f" "$TOOLS_DIR/kwok-stages/$(basename "$f")"
	done
fi

# --- act (issue 16): runs .github/workflows/*.yml on this host (tools/act/, docs/cicd.md) ---------------------
build act "$G/act" github.com/nektos/act "-s -w -X main.version=${ACT_VERSION#v}"

# --- provider as a Pulumi plugin -------------------------------------------
export PULUMI_HOME=$TOOLS_DIR/pulumi-home PULUMI_SKIP_UPDATE_CHECK=true
plug=$PULUMI_HOME/plugins/resource-kubernetes-v$PULUMI_K8S_VERSION/pulumi-resource-kubernetes
if [[ -x $BIN/pulumi && -x $BIN/pulumi-resource-kubernetes && ! -x $plug ]]; then
	"$BIN/pulumi" plugin install resource kubernetes "$PULUMI_K8S_VERSION" \
		--file "$BIN/pulumi-resource-kubernetes"
	SUMMARY+=("plugin resource-kubernetes v$PULUMI_K8S_VERSION installed into $PULUMI_HOME")
fi

echo
printf '%s\n' "${SUMMARY[@]}"
echo "bin: $BIN"
ls -l "$BIN"
