#!/usr/bin/env bash
# Installs everything Scribe's tests, demo and tools need on a fresh Debian machine:
# Debian packages (as root), npm dependencies, and the Go-built components (cached).
set -euo pipefail
cd "$(dirname "$0")/.."

# Real tools the movers drive and the tests run (see docs in test/movers/*/README.md).
# prometheus: its promtool (the alert rules' unit tests) and its server, which the live-alerts
# e2e test starts on a loopback port of its own (where systemd runs, the package also enables
# a daemon on :9090, which the tests do not use).
# mmdebstrap, buildah (it brings uidmap) and umoci: `npm run image` makes the images' Debian base,
# builds them without a daemon or registry, and the local node unpacks them (scripts/image.sh).
# runc: the local node runs each container from its image with runc, the OCI runtime under
# containerd on a real node, so user ids, capabilities and read-only roots are the kernel's own.
# xfsprogs: the local node keeps volumes and snapshots on an XFS image, so a clone or snapshot
# shares blocks (reflink) as a CSI driver's copy-on-write one does (src/local/agent/storage.ts).
DEBIAN_PACKAGES=(rsync python3 openssh-server openssh-client acl attr bubblewrap openssl chromium prometheus
  mmdebstrap buildah umoci runc xfsprogs)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl: built once, cached.
bash scripts/tools.sh ensure etcd kubernetes helm >/dev/null
# restic and rclone for their movers, MinIO as the real S3 server of their tests.
bash scripts/tools.sh ensure restic rclone minio >/dev/null
# The mover tests (test/movers) run the entrypoints on this machine, which find restic and rclone
# on PATH as the mover image's do in /usr/local/bin.
if [ "$(id -u)" -eq 0 ]; then
  for tool in restic rclone; do
    install -m 0755 "$(bash scripts/tools.sh dir "$tool")/$tool" "/usr/local/bin/$tool"
  done
fi
bash scripts/tools.sh module-dir snapshot-crds github.com/kubernetes-csi/external-snapshotter/client/v8 >/dev/null
# The Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule, ...) for the integration tests.
bash scripts/tools.sh module-dir prometheus-crds github.com/prometheus-operator/prometheus-operator >/dev/null
# Scribe's images, which the local node loads and runs every pod from (cached by their inputs:
# seconds when nothing changed, about 30 s after a source change, under 2 minutes cold).
bash scripts/image.sh >/dev/null
echo "setup complete"
