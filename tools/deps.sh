#!/usr/bin/env bash
# Installs the Debian packages vitrine needs to build and test.
#
#   tools/deps.sh               install (apt-get update + install) all of them
#   tools/deps.sh --build       only what building needs (the Dockerfile's build stage)
#   tools/deps.sh --if-missing  install only when one is missing (make run/test)
#   tools/deps.sh --bench       also the peers the benchmarks compare against
#                               (PyTorch, hnswlib, numpy)
#   tools/deps.sh --fuzz        also clang and its libFuzzer runtime (make fuzz,
#                               CI); combines with --if-missing
#   tools/deps.sh --cross TRIPLET
#                               also a cross build's (make deps CROSS=TRIPLET-):
#                               Debian's gcc-TRIPLET, the target's multiarch
#                               -dev packages (adding its dpkg architecture
#                               when missing) and qemu-user-static for the
#                               emulated tests; with --build, only what the
#                               cross build needs (the Dockerfile's arm64
#                               stage). TRIPLET: aarch64-linux-gnu.
#   tools/deps.sh --arch ARCH   the same by Debian architecture (Docker's
#                               TARGETARCH): --cross for arm64 on another
#                               machine, nothing more for this machine's own
#
# Runs apt-get directly as root, through sudo otherwise.
set -eu

# libstemmer-dev: Snowball's stemmers for text indexes (src/index/stem.c).
BUILD_PKGS="build-essential pkg-config libuv1-dev node-llhttp libstb-dev libopenblas-dev
liblmdb-dev libutf8proc-dev libwebp-dev libyajl-dev libstemmer-dev"
# chromium: the browser the web page test (tests/e2e/ui.sh) drives headless;
# python3-jsonschema: the OpenAPI check of tests/e2e/qdrant_client.sh;
# python3-snowballstemmer: the pure-Python Snowball stemmers, the
# reference tests/e2e/qdrant_bm25.py checks BM25's stemming against.
TEST_PKGS="curl ca-certificates python3 python3-jsonschema python3-snowballstemmer procps chromium"
BENCH_PKGS="python3-numpy python3-torch python3-hnswlib"
# The libraries among BUILD_PKGS that a binary links: a cross build needs
# the target architecture's copies (libuv1-dev:arm64, ...). The others are
# headers and sources (node-llhttp, libstb-dev) or host tools.
LIB_PKGS="libuv1-dev libopenblas-dev liblmdb-dev libutf8proc-dev libwebp-dev libyajl-dev libstemmer-dev"
# Debian's default clang; libclang-rt-dev holds libFuzzer and the sanitizer
# runtimes clang links.
FUZZ_PKGS="clang libclang-rt-dev"

usage() {
    echo "usage: tools/deps.sh [--if-missing] [--build] [--bench] [--fuzz] [--cross TRIPLET | --arch ARCH]" >&2
    exit 2
}
mode=all
build_only=
extra=
triplet=
while [ $# -gt 0 ]; do
    case "$1" in
        --if-missing) mode=missing ;;
        --build) build_only=1 ;;
        --bench) extra="$extra $BENCH_PKGS" ;;
        --fuzz) extra="$extra $FUZZ_PKGS" ;;
        --cross) [ $# -ge 2 ] || usage; triplet=$2; shift ;;
        --arch)
            [ $# -ge 2 ] || usage
            if [ -n "$2" ] && [ "$2" != "$(dpkg --print-architecture)" ]; then
                case "$2" in
                    arm64) triplet=aarch64-linux-gnu ;;
                    *) echo "deps: no cross build for '$2' (supported: arm64)" >&2; exit 2 ;;
                esac
            fi
            shift ;;
        *) usage ;;
    esac
    shift
done
if [ -n "$build_only" ]; then
    pkgs="$BUILD_PKGS$extra"
else
    pkgs="$BUILD_PKGS $TEST_PKGS$extra"
fi

# A cross build: the Debian architecture of the triplet, its compiler and
# the target's copies of the libraries; qemu-user-static runs the tests.
arch=
if [ -n "$triplet" ]; then
    case "$triplet" in
        aarch64-linux-gnu) arch=arm64 ;;
        *) echo "deps: unsupported cross triplet '$triplet' (supported: aarch64-linux-gnu)" >&2; exit 2 ;;
    esac
    pkgs="$pkgs gcc-$triplet libc6-dev-$arch-cross"
    for p in $LIB_PKGS; do pkgs="$pkgs $p:$arch"; done
    [ -n "$build_only" ] || pkgs="$pkgs qemu-user-static"
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    [ $mode = missing ] || echo "deps: all Debian packages are installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: not root and no sudo; install them with apt-get as root" >&2
    exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# The target architecture's packages are installable once dpkg knows it
# (the apt-get update below then fetches its package lists).
if [ -n "$arch" ] && [ "$arch" != "$(dpkg --print-architecture)" ] &&
    ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    echo "deps: adding the dpkg architecture $arch"
    $SUDO dpkg --add-architecture "$arch"
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
