#!/usr/bin/env bash
# tools/build-release.sh - build the release binary and stage exactly what
# a machine needs to run it, plus the list of Debian packages its shared
# libraries come from. The Dockerfile's build stage runs this script and
# nothing else, and tests/e2e/release.sh runs it too, so the image holds
# what the tests checked.
#
#   tools/build-release.sh --prefix DIR [--arch ARCH] [--bin PREBUILT] [--jobs N]
#
# --prefix DIR   the staging tree to (re)create:
#                  DIR/bin/vitrine                  the server and CLI (debug info stripped)
#                (DIR must be new, empty, or a tree this script made: it is emptied first)
#                  DIR/bin/vitrine-healthcheck      the container's health probe
#                  DIR/share/vitrine/runtime-packages   one Debian package a line
#                  DIR/share/doc/vitrine/{LICENSE,README.md}
# --bin FILE     stage FILE instead of building (the tests pass the binary
#                they already built, so they do not compile it again)
# --jobs N       make's parallelism (default: the CPUs this process may use)
# --arch ARCH    the Debian architecture to build for (amd64, arm64; the
#                Dockerfile passes Docker's TARGETARCH). Another one than
#                this machine's is a cross build: `make CROSS=TRIPLET-`
#                (build/ARCH/vitrine), stripped with TRIPLET-strip, its
#                libraries read from the ELF file (ldd cannot run it) and
#                looked up in the target's multiarch folders, the packages
#                named without the :ARCH that dpkg -S adds (the image
#                installs them natively). tools/deps.sh --cross TRIPLET
#                installs what it needs.
#
# The build is the Makefile's release build (`make vitrine`: -O2, portable,
# no -march=native, no sanitizer, whatever SANITIZER or OPTFLAGS the caller's
# make passed down); CC and VITRINE_COMMIT (the commit GET / reports, when
# the tree is no git checkout) are taken from the environment.
#
# runtime-packages is derived, not maintained: every shared library `ldd`
# resolves for the binary is looked up with `dpkg -S`, so a new -l in the
# Makefile reaches the image by itself. A library that no Debian package
# owns (one built into /usr/local, say) stops the script: the image could
# not install it.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix='' bin='' arch='' jobs=$(nproc 2>/dev/null || echo 1)
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
        --bin) bin=${2:?--bin needs a file}; shift 2 ;;
        --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
        --arch) arch=${2?--arch needs a Debian architecture}; shift 2 ;;
        *) echo "usage: tools/build-release.sh --prefix DIR [--arch ARCH] [--bin PREBUILT] [--jobs N]" >&2; exit 2 ;;
    esac
done
[ -n "$prefix" ] || { echo "build-release: --prefix DIR is required" >&2; exit 2; }
die() { echo "build-release: $*" >&2; exit 1; }

# A cross build when --arch names another architecture than this machine's.
host_arch=$(dpkg --print-architecture)
triplet=''
if [ -n "$arch" ] && [ "$arch" != "$host_arch" ]; then
    case $arch in
        arm64) triplet=aarch64-linux-gnu ;;
        *) die "no cross build for '$arch' (supported: arm64, or this machine's $host_arch)" ;;
    esac
fi

if [ -z "$bin" ]; then
    # A make that runs this script (make test) passes its command-line
    # variables down through MAKEFLAGS, SANITIZER=address among them: drop
    # them, and name the release settings explicitly.
    if [ -n "$triplet" ]; then
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -j"$jobs" SANITIZER= OPTFLAGS= \
            CROSS="$triplet-" "build/$arch/vitrine"
        bin=build/$arch/vitrine
    else
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -j"$jobs" SANITIZER= OPTFLAGS= vitrine
        bin=./vitrine
    fi
fi
[ -x "$bin" ] || die "$bin is not an executable"

# The prefix is emptied first, so it must be a staging tree: a folder that
# does not exist, an empty one, or one this script made before (never
# /usr/local by mistake).
if [ -d "$prefix" ] && [ -n "$(ls -A "$prefix")" ] && [ ! -f "$prefix/share/vitrine/runtime-packages" ]; then
    die "$prefix is not empty and not a staging tree made by this script; give a new folder"
fi
rm -rf "$prefix"
mkdir -p "$prefix/bin" "$prefix/share/vitrine" "$prefix/share/doc/vitrine"
# Debug info is most of the file (2.3 MB of 3.3) and no use in an image;
# the symbol table stays, so a crash's backtrace still names functions.
strip=${triplet:+$triplet-}strip
if command -v "$strip" >/dev/null; then
    "$strip" --strip-debug -o "$prefix/bin/vitrine" "$bin"
else
    cp "$bin" "$prefix/bin/vitrine"
fi
chmod 0755 "$prefix/bin/vitrine"
install -m 0755 tools/healthcheck.sh "$prefix/bin/vitrine-healthcheck"
install -m 0644 LICENSE README.md "$prefix/share/doc/vitrine/"

# The runtime packages: the owner of every library the binary loads (its
# NEEDED entries and theirs), as ldd resolves them here. The loader
# itself and the vDSO are libc6's and the kernel's.
# A cross-built binary cannot run here, so ldd cannot list its libraries:
# elf_libs walks the NEEDED entries of the ELF file and of every library
# it finds, in the target's multiarch folders (what its loader searches
# on Debian), and prints them as ldd does ("name => path (0)", the loader
# alone), so that the code below reads either.
elf_libs() {
    local file=$1 interp name path f
    local -a queue=("$file") dirs=("/lib/$triplet" "/usr/lib/$triplet" /lib /usr/lib)
    local -A seen=()
    interp=$(readelf -l "$file" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
    [ -n "$interp" ] || { echo "build-release: $file has no program interpreter" >&2; return 1; }
    while [ ${#queue[@]} -gt 0 ]; do
        f=${queue[0]}
        queue=("${queue[@]:1}")
        for name in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [ -z "${seen[$name]:-}" ] || continue
            seen[$name]=1
            path=
            for d in "${dirs[@]}"; do
                [ -e "$d/$name" ] && { path=$d/$name; break; }
            done
            if [ -z "$path" ]; then
                printf '\t%s => not found\n' "$name"
                continue
            fi
            printf '\t%s => %s (0)\n' "$name" "$path"
            queue+=("$path")
        done
    done
    printf '\t%s (0)\n' "$interp"
}
if [ -n "$triplet" ]; then
    libs=$(elf_libs "$prefix/bin/vitrine") || die "cannot read the libraries of $prefix/bin/vitrine"
else
    libs=$(ldd "$prefix/bin/vitrine") || die "ldd failed on $prefix/bin/vitrine"
fi
if grep -q 'not found' <<<"$libs"; then
    die "libraries not found: $(grep 'not found' <<<"$libs" | tr -s ' \t' ' ')"
fi
# dpkg knows a file by the path its package shipped, while the path ldd
# prints may go through a symlink (/lib -> usr/lib, /etc/alternatives):
# each library is looked up under its path, its resolved path and both
# with and without /usr, all in one dpkg -S (each call reads dpkg's whole
# file list).
mapfile -t paths < <(awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }' <<<"$libs")
candidates=()
for path in "${paths[@]}"; do
    for p in "$path" "$(readlink -f "$path")"; do
        case $p in /usr/*) candidates+=("$p" "${p#/usr}") ;; *) candidates+=("$p" "/usr$p") ;; esac
    done
done
# "libuv1:amd64: /usr/lib/x86_64-linux-gnu/libuv.so.1.0.0" -> owner[file]=libuv1
declare -A owner
while read -r pkg file; do
    pkg=${pkg%:}
    owner[$file]=${pkg%%:*}
done < <(dpkg -S "${candidates[@]}" 2>/dev/null | grep -v '^diversion ' || true)
pkgs=()
for path in "${paths[@]}"; do
    found=
    for p in "$path" "$(readlink -f "$path")"; do
        case $p in /usr/*) alts=("$p" "${p#/usr}") ;; *) alts=("$p" "/usr$p") ;; esac
        for a in "${alts[@]}"; do
            found=${owner[$a]:-}
            [ -n "$found" ] && break 2
        done
    done
    [ -n "$found" ] || die "no Debian package owns $path (needed by vitrine); the image could not install it"
    pkgs+=("$found")
done
printf '%s\n' "${pkgs[@]}" | sort -u >"$prefix/share/vitrine/runtime-packages"

echo "build-release: staged in $prefix:"
(cd "$prefix" && find . -type f | sort | sed 's|^\./|  |')
echo "build-release: runtime packages: $(tr '\n' ' ' <"$prefix/share/vitrine/runtime-packages")"
