#!/usr/bin/env bash
# Builds the upstream binaries of the local control plane (etcd, kube-apiserver,
# kube-controller-manager, CSI sidecars) from the pinned Go modules beside this script, once:
# every module's binaries land in a cache dir named after a hash of that module's go.mod, go.sum,
# its own sources and the Go version, so a later run with the same pins reuses them.
#
#   build.sh            build what is missing, print one `name<TAB>absolute path` line per binary
#   build.sh --json     the same as a JSON object {name: path}
#
# Progress goes to stderr. Binaries are built one at a time (2-core machine, others compiling
# too) with -trimpath. Exit non-zero if any binary cannot be built: the tier must fail loudly.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${RDS_LOCAL_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rds-nvme-csi/local-cluster}
format=lines
[ "${1:-}" = "--json" ] && format=json

# module dir | binary name | Go package (relative to the module)
targets=(
  "kube|etcd|./cmd/etcd"
  "kube|kube-apiserver|k8s.io/kubernetes/cmd/kube-apiserver"
  "kube|kube-controller-manager|k8s.io/kubernetes/cmd/kube-controller-manager"
)
for extra in "$here"/*/targets; do
  # A sidecar module lists its binaries in a `targets` file: `binary-name go/package` per line.
  [ -e "$extra" ] || continue
  mod=$(basename "$(dirname "$extra")")
  while read -r name pkg; do
    [ -n "$name" ] && targets+=("$mod|$name|$pkg")
  done < "$extra"
done

go_version=$(go env GOVERSION)
# Release builds of Kubernetes stamp their version at link time; without it kube-apiserver would
# report v0.0.0-master, and clients that look at the server version would be misled.
kube_version=$(cd "$here/kube" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$(echo "$kube_version" | cut -d. -f1 | tr -d v)"
  kube_ldflags+=" -X $pkg.gitMinor=$(echo "$kube_version" | cut -d. -f2) -X $pkg.gitTreeState=clean"
done
ldflags_for() { [ "$1" = kube ] && echo "$kube_ldflags"; return 0; }

module_hash() { # a module dir -> 12 hex chars over its pins, sources, link flags and the Go version
  (cd "$here/$1" && { echo "$go_version"; ldflags_for "$1"; find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' -o -name targets -o -name files \) | LC_ALL=C sort | xargs sha256sum; }) \
    | sha256sum | cut -c1-12
}

declare -A outputs=()
names=()
for t in "${targets[@]}"; do
  IFS='|' read -r mod name pkg <<<"$t"
  dir="$cache_root/$mod-$(module_hash "$mod")/bin"
  out="$dir/$name"
  if [ ! -x "$out" ]; then
    mkdir -p "$dir"
    echo "building $name ($pkg) into $dir ..." >&2
    start=$(date +%s)
    # Build to a temp name and rename, so an interrupted build never leaves a half binary.
    (cd "$here/$mod" && GOFLAGS="-trimpath -mod=readonly" CGO_ENABLED=0 go build -ldflags="$(ldflags_for "$mod")" -o "$out.tmp.$$" "$pkg") >&2
    mv -f "$out.tmp.$$" "$out"
    echo "built $name in $(( $(date +%s) - start ))s" >&2
  fi
  outputs[$name]=$out
  names+=("$name")
done

# Data files shipped inside a pinned module (e.g. CRDs): a module's `files` lists
# `name module/path subdir` per line; the subdir's YAML is copied into the cache and `name` points
# at that directory.
for spec in "$here"/*/files; do
  [ -e "$spec" ] || continue
  mod=$(basename "$(dirname "$spec")")
  while read -r name modpath subdir; do
    [ -n "$name" ] || continue
    dest="$cache_root/$mod-$(module_hash "$mod")/$name"
    if [ ! -d "$dest" ]; then
      src=$(cd "$here/$mod" && GOFLAGS=-mod=readonly go mod download -json "$modpath" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
      [ -d "$src/$subdir" ] || { echo "no $subdir in $modpath ($src)" >&2; exit 1; }
      mkdir -p "$dest.tmp.$$"
      cp "$src/$subdir"/*.yaml "$dest.tmp.$$/"
      chmod -R u+w "$dest.tmp.$$"
      mv "$dest.tmp.$$" "$dest"
    fi
    outputs[$name]=$dest
    names+=("$name")
  done < "$spec"
done

if [ "$format" = json ]; then
  sep="{"
  for n in "${names[@]}"; do printf '%s"%s":"%s"' "$sep" "$n" "${outputs[$n]}"; sep=","; done
  printf '}\n'
else
  for n in "${names[@]}"; do printf '%s\t%s\n' "$n" "${outputs[$n]}"; done
fi
