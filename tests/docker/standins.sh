#!/usr/bin/env bash
# Local stand-ins for the Docker Hub base images that docker/ builds FROM, for a machine that
# cannot reach Docker Hub (this project's CI reaches only Debian, crates.io, PyPI and npm).
#
#   tests/docker/standins.sh          # make whichever of the images below is missing
#
#   debian:bookworm-slim   debootstrap --variant=minbase, `docker import`
#   rust:1-bookworm        that Debian + gcc, make, git and this machine's Rust toolchain
#   python:3.12-slim       that Debian + Debian's python3 and pip (3.11: close enough to build a client)
#   node:22-slim           that Debian + this machine's node and npm
#
# An image that exists and is not a stand-in (pulled from Docker Hub) is never replaced, and a
# stand-in is rebuilt only when its recipe (this file, the toolchain, the CA certificates) has
# changed: its label org.keyvault-emulator.standin holds the recipe's hash. The user-facing
# Dockerfiles in docker/ know nothing of this.
#
# Each stand-in trusts this machine's local CA certificates (/usr/local/share/ca-certificates,
# as update-ca-certificates uses them), without which a build behind a TLS-inspecting egress
# proxy cannot reach crates.io, PyPI or npm. Needs root, docker, debootstrap.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LABEL=org.keyvault-emulator.standin
MIRROR="${KVEMU_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LOCAL_CA_DIR=/usr/local/share/ca-certificates

say() { echo "standins: $*"; }
hash_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# "real", "current", "stale" or "missing" for a tag, given the wanted recipe hash.
image_state() {
  local tag="$1" want="$2" have
  if ! have="$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$tag" 2>/dev/null)"; then
    echo missing
  elif [[ -z "$have" || "$have" == "<no value>" ]]; then
    echo real
  elif [[ "$have" == "$want" ]]; then
    echo current
  else
    echo stale
  fi
}

# Docker Hub first: where it answers, the real images are used and nothing is made here.
pull_if_reachable() {
  local tag="$1"
  [[ "${KVEMU_STANDINS:-auto}" == always ]] && return 1
  if [[ -z "${hub_reachable:-}" ]]; then
    if timeout 60 docker pull -q "$tag" >/dev/null 2>&1; then hub_reachable=yes; return 0; fi
    hub_reachable=no
    say "Docker Hub is not reachable: making local stand-ins"
    return 1
  fi
  [[ "$hub_reachable" == yes ]] && timeout 300 docker pull -q "$tag" >/dev/null
}

local_ca_hash() {
  local files=("$LOCAL_CA_DIR"/*.crt)
  if [[ -e "${files[0]}" ]]; then hash_of "${files[@]}"; else echo none; fi
}

# A build context holding the machine's local CA certificates as local-ca/*.crt.
context_with_ca() {
  local ctx="$1"
  mkdir -p "$ctx/local-ca"
  if compgen -G "$LOCAL_CA_DIR/*.crt" >/dev/null; then cp "$LOCAL_CA_DIR"/*.crt "$ctx/local-ca/"; fi
}

# The trust and apt settings every Debian-based stand-in starts with.
DEBIAN_PREAMBLE='COPY local-ca/ /usr/local/share/ca-certificates/
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null \
 && update-ca-certificates >/dev/null'

make_debian() {
  local tag=debian:bookworm-slim want root
  want="$(hash_of "$HERE/standins.sh")"
  case "$(image_state "$tag" "$want")" in
    real | current) return 0 ;;
  esac
  pull_if_reachable "$tag" && return 0
  say "$tag: debootstrap --variant=minbase bookworm ($MIRROR)"
  root="$(mktemp -d "${TMPDIR:-/tmp}/kvemu-debian.XXXXXX")"
  # The docker image's dpkg excludes (no man pages or docs), as the real slim image has them.
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' >"$root/etc/dpkg/dpkg.cfg.d/docker"
  if ! debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    rm -rf "$root" "$root.log"
    return 1
  fi
  rm -f "$root.log"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$MIRROR" >"$root/etc/apt/sources.list.d/debian.sources"
  : >"$root/etc/apt/sources.list"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import --change "LABEL $LABEL=$want" --change 'CMD ["bash"]' - "$tag" >/dev/null
  rm -rf "$root"
}

make_rust() {
  local tag=rust:1-bookworm want toolchain ctx
  toolchain="$(rustc --print sysroot)"
  want="$(hash_of "$HERE/standins.sh" "$toolchain/lib/rustlib/multirust-channel-manifest.toml" 2>/dev/null || hash_of "$HERE/standins.sh")-$(local_ca_hash)-$(rustc --version | tr -dc '0-9.')"
  case "$(image_state "$tag" "$want")" in
    real | current) return 0 ;;
  esac
  pull_if_reachable "$tag" && return 0
  say "$tag: Debian + gcc, make, git + $(rustc --version)"
  ctx="$(mktemp -d "${TMPDIR:-/tmp}/kvemu-rust.XXXXXX")"
  context_with_ca "$ctx"
  # The toolchain without its documentation (hard links: no copy on the same file system).
  mkdir -p "$ctx/rust/bin"
  cp -al "$toolchain/lib" "$ctx/rust/lib" 2>/dev/null || cp -a "$toolchain/lib" "$ctx/rust/lib"
  local tool
  for tool in cargo rustc rustdoc; do cp -a "$toolchain/bin/$tool" "$ctx/rust/bin/"; done
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM debian:bookworm-slim
$DEBIAN_PREAMBLE \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      gcc g++ libc6-dev make git pkg-config curl xz-utils >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
COPY rust/ /usr/local/rust/
ENV CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL $LABEL=$want
DOCKERFILE
  docker build -q -t "$tag" "$ctx" >/dev/null || { rm -rf "$ctx"; return 1; }
  rm -rf "$ctx"
}

make_python() {
  local tag=python:3.12-slim want ctx
  want="$(hash_of "$HERE/standins.sh")-$(local_ca_hash)"
  case "$(image_state "$tag" "$want")" in
    real | current) return 0 ;;
  esac
  pull_if_reachable "$tag" && return 0
  say "$tag: Debian + python3, pip"
  ctx="$(mktemp -d "${TMPDIR:-/tmp}/kvemu-python.XXXXXX")"
  context_with_ca "$ctx"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM debian:bookworm-slim
$DEBIAN_PREAMBLE \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      python3 python3-pip python-is-python3 >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
# The real image's pip installs into its own Python; Debian's guards the system one.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
CMD ["python3"]
LABEL $LABEL=$want
DOCKERFILE
  docker build -q -t "$tag" "$ctx" >/dev/null || { rm -rf "$ctx"; return 1; }
  rm -rf "$ctx"
}

make_node() {
  local tag=node:22-slim want ctx node npm_dir
  node="$(command -v node)"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  want="$(hash_of "$HERE/standins.sh")-$(local_ca_hash)-$("$node" --version)"
  case "$(image_state "$tag" "$want")" in
    real | current) return 0 ;;
  esac
  pull_if_reachable "$tag" && return 0
  say "$tag: Debian + node $("$node" --version) and npm of this machine"
  ctx="$(mktemp -d "${TMPDIR:-/tmp}/kvemu-node.XXXXXX")"
  context_with_ca "$ctx"
  mkdir -p "$ctx/node/bin" "$ctx/node/lib/node_modules"
  cp -a "$node" "$ctx/node/bin/node"
  cp -a "$npm_dir" "$ctx/node/lib/node_modules/npm"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM debian:bookworm-slim
$DEBIAN_PREAMBLE \\
 && rm -rf /var/lib/apt/lists/*
COPY node/ /usr/local/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
# Node's own CA list does not include the machine's local CA; the real image needs no such line.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
LABEL $LABEL=$want
DOCKERFILE
  docker build -q -t "$tag" "$ctx" >/dev/null || { rm -rf "$ctx"; return 1; }
  rm -rf "$ctx"
}

make_debian
make_rust
make_python
make_node
say "ready: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(debian:bookworm-slim|rust:1-bookworm|python:3.12-slim|node:22-slim) ' | tr '\n' ' ')"
