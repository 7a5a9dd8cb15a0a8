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
#
# Runs apt-get directly as root, through sudo otherwise.
set -eu

BUILD_PKGS="build-essential pkg-config libuv1-dev node-llhttp libstb-dev libopenblas-dev
liblmdb-dev libutf8proc-dev libwebp-dev libyajl-dev"
# chromium: the browser the web page test (tests/e2e/ui.sh) drives headless;
# python3-jsonschema: the OpenAPI check of tests/e2e/qdrant_client.sh.
TEST_PKGS="curl ca-certificates python3 python3-jsonschema procps chromium"
BENCH_PKGS="python3-numpy python3-torch python3-hnswlib"
# Debian's default clang; libclang-rt-dev holds libFuzzer and the sanitizer
# runtimes clang links.
FUZZ_PKGS="clang libclang-rt-dev"

mode=all
pkgs="$BUILD_PKGS $TEST_PKGS"
for arg in "$@"; do
    case "$arg" in
        --if-missing) mode=missing ;;
        --build) pkgs="$BUILD_PKGS" ;;
        --bench) pkgs="$pkgs $BENCH_PKGS" ;;
        --fuzz) pkgs="$pkgs $FUZZ_PKGS" ;;
        *) echo "usage: tools/deps.sh [--if-missing] [--build] [--bench] [--fuzz]" >&2; exit 2 ;;
    esac
done

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
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
