#!/usr/bin/env bash
# Installs what hoprec needs to build, test and run on Debian 12, and fetches
# the FAISS sources that Debian's libfaiss-dev does not ship compiled for
# this project's needs: the C API, and the distance kernels (rebuilt for
# AVX2 where the machine has it; see index/faiss/meson.build).
#
# Idempotent and quiet when everything is present. Used by the README's
# commands, by .ci/run and by the Dockerfile.
#
#   deploy/deps.sh            build, test and run dependencies
#   deploy/deps.sh --runtime  only the shared libraries the binary needs
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
faiss_dir="$root/.deps/faiss"

build_pkgs=(
  build-essential g++ meson ninja-build pkg-config git ca-certificates
  libmicrohttpd-dev libjansson-dev libuv1-dev libcriterion-dev
  libopenblas-dev liblapacke-dev libsqlite3-dev libmetis-dev
  libfaiss-dev zlib1g-dev libcurl4-openssl-dev sqlite3 curl
  python3-yaml prometheus openssl
)
runtime_pkgs=(
  libmicrohttpd12 libjansson4 libuv1 libopenblas0-pthread liblapacke
  libsqlite3-0 libmetis5 libgomp1 libstdc++6 zlib1g libcurl4 curl
  ca-certificates
)

say() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
      grep -q '^install ok installed$' || printf '%s\n' "$p"
  done
}

install_pkgs() {
  local missing
  missing=$(missing_pkgs "$@")
  [ -z "$missing" ] && return 0
  say "installing: $(echo $missing)"
  as_root apt-get update -qq
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Debian's source package of faiss holds c_api/ and the distance kernels
# of exactly the packaged version. It is fetched with a private apt
# configuration so that the system's sources list is left alone.
fetch_faiss_sources() {
  [ -f "$faiss_dir/c_api/Index_c.cpp" ] &&
    [ -f "$faiss_dir/faiss/utils/distances_simd.cpp" ] && return 0
  local version upstream tmp
  version=$(dpkg-query -W -f='${source:Version}' libfaiss-dev)
  upstream=${version%-*}
  upstream=${upstream#*:}
  tmp=$(mktemp -d)
  mkdir -p "$tmp/etc" "$tmp/lists/partial" "$tmp/cache"
  cat >"$tmp/etc/src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  local o=(-o Dir::Etc::SourceList=/dev/null
    -o "Dir::Etc::SourceParts=$tmp/etc"
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache"
    -o APT::Sandbox::User=root)
  say "fetching the faiss $version source package (C API, kernels)"
  apt-get "${o[@]}" update -qq
  (cd "$tmp" && apt-get "${o[@]}" source --download-only -qq \
    "faiss=$version" >/dev/null)
  rm -rf "$faiss_dir" && mkdir -p "$faiss_dir"
  tar -xzf "$tmp/faiss_$upstream.orig.tar.gz" -C "$faiss_dir" \
    --strip-components=1 "faiss-$upstream/c_api" \
    "faiss-$upstream/faiss/utils/distances_simd.cpp"
  echo "$version" >"$faiss_dir/VERSION"
  rm -rf "$tmp"
}

if [ "${1:-}" = "--runtime" ]; then
  install_pkgs "${runtime_pkgs[@]}"
  exit 0
fi

install_pkgs "${build_pkgs[@]}"
# A system libfaiss_c, where one is installed, is used instead.
if ! ldconfig -p | grep -q 'libfaiss_c\.so'; then
  fetch_faiss_sources
fi
