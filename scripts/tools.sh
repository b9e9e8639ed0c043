#!/usr/bin/env bash
# Builds the real components Scribe tests against (etcd, the Kubernetes control plane, ...)
# from their Go modules, once, into a cache keyed by each wrapper module's pins.
#
#   scripts/tools.sh ensure NAME...   build what is missing, print each NAME's bin directory
#   scripts/tools.sh dir NAME         print the bin directory NAME would use (built or not)
#   scripts/tools.sh module-dir NAME MODULE
#                                     download MODULE as pinned by tools/NAME, print its source dir
#
# NAME is a folder under tools/ holding a wrapper go.mod whose `tool` lines list the commands.
# The cache lives outside the checkout (SCRIBE_CACHE, default ~/.cache/scribe) so that a fresh
# clone on the same machine, as CI makes, reuses it; it is never committed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SCRIBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scribe}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

bin_dir() {
  local name=$1 key
  key=$(cat "$root/tools/$name/go.mod" "$root/tools/$name/go.sum" | sha256sum | cut -c1-12)
  echo "$cache/bin/$name-$key"
}

# Version stamps: without them kube binaries report v0.0.0-master and clients complain.
ldflags_for() {
  local name=$1
  case $name in
    kubernetes)
      local v minor
      v=$(cd "$root/tools/$name" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
      minor=$(echo "$v" | cut -d. -f2)
      local flags=""
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitTreeState=clean"
      done
      echo "-s -w$flags"
      ;;
    helm)
      # As helm's Makefile does: its version, and the Kubernetes version it assumes offline
      # (`helm template`/`lint` without --kube-version), from the client-go it is built with.
      local v kv
      v=$(cd "$root/tools/$name" && go list -m -f '{{.Version}}' helm.sh/helm/v3)
      kv=$(cd "$root/tools/$name" && go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
      local flags=" -X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
      for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        flags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$kv"
      done
      echo "-s -w$flags"
      ;;
    *) echo "-s -w" ;;
  esac
}

build() {
  local name=$1 out
  out=$(bin_dir "$name")
  if [ -f "$out/.complete" ]; then return 0; fi
  echo "building $name into $out (first time only; this can take a while)" >&2
  local started=$SECONDS tmp="$out.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  local tools
  tools=$(cd "$root/tools/$name" && go list -f '{{range .Tool}}{{.}} {{end}}' -m 2>/dev/null || true)
  [ -n "$tools" ] || tools=$(awk '/^tool \(/{f=1;next} f&&/^\)/{f=0} f{print $1} /^tool [^(]/{print $2}' "$root/tools/$name/go.mod")
  # One go build for all commands of a module, so shared packages compile once.
  (cd "$root/tools/$name" && go build -p "$(nproc)" -trimpath -ldflags "$(ldflags_for "$name")" -o "$tmp/" $tools)
  # etcd's main package is the module root go.etcd.io/etcd/server/v3, which go names "server".
  if [ "$name" = etcd ]; then mv "$tmp/server" "$tmp/etcd"; fi
  touch "$tmp/.complete"
  rm -rf "$out" && mv "$tmp" "$out"
  echo "built $name in $((SECONDS - started))s" >&2
}

cmd=${1:-}; shift || true
case $cmd in
  ensure) for n in "$@"; do build "$n"; bin_dir "$n"; done ;;
  dir) bin_dir "$1" ;;
  module-dir)
    (cd "$root/tools/$1" && go mod download "$2" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "$2") ;;
  *) echo "usage: $0 ensure NAME... | dir NAME | module-dir NAME MODULE" >&2; exit 2 ;;
esac
