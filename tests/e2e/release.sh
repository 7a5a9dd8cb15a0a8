#!/usr/bin/env bash
# release.sh - what the Docker image is made of, checked without Docker
# (the team's machines cannot run it):
#   1. tools/build-release.sh stages the binary (the one under test, or a
#      make of the release build, which is then up to date) into a temporary
#      prefix: bin/vitrine, bin/vitrine-healthcheck, the runtime package list;
#   2. the staged binary runs: --version, and the Dockerfile's ENTRYPOINT
#      (with a loopback port, a temporary data folder and the fixture model
#      appended, later flags winning as they do after `docker run IMAGE`)
#      serves /healthz and /readyz and embeds a text and a WebP photo as the
#      reference model does; the staged health probe passes against it and
#      fails once it is gone;
#   3. every shared library the staged binary loads (ldd) belongs to a
#      package of the runtime list (dpkg -S), the list holds no -dev
#      package, and each of its packages is installed here;
#   4. the Dockerfile builds through that script and takes the binary, the
#      probe and the package list from its prefix (so the image cannot
#      drift from what this test ran; for another platform the build stage
#      cross-compiles with --arch $TARGETARCH), installs nothing else in the runtime
#      stage, runs as a non-root user, and declares VOLUME /data, EXPOSE
#      6333, the HEALTHCHECK and the ENTRYPOINT; .dockerignore keeps every
#      file the build needs.
# VITRINE_BIN is exported by tests/run.sh; the fixtures are the copy in
# tests/fixtures/clip, or the folder named by VITRINE_FIXTURES.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${VITRINE_BIN:-./vitrine}
FIX=${VITRINE_FIXTURES:-tests/fixtures/clip}
MODEL=$FIX/models/tiny-p32
EXPECTED=$FIX/expected/tiny-p32/outputs.json
work=$(mktemp -d)
stage=$work/stage
log=$work/serve.log
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() {
    echo "release.sh: FAIL: $*"
    [ -s "$log" ] && { echo "--- server log"; cat "$log"; }
    exit 1
}

# ---- 1. stage ----
# The binary under test is staged as it is: a sanitizer build's own (its
# runtime libraries then join the list, which is still checked below). The
# release binary ./vitrine goes through the script's make, as in the image;
# make test built it just before, so nothing compiles here.
if [ "$(readlink -f "$BIN")" = "$(readlink -f ./vitrine)" ]; then
    tools/build-release.sh --prefix "$stage" --jobs 2 >"$work/build.log" 2>&1 ||
        fail "tools/build-release.sh: $(cat "$work/build.log")"
    grep -Eq '^(cc|gcc|clang) ' "$work/build.log" && echo "release.sh: note: the script's make recompiled something"
else
    tools/build-release.sh --prefix "$stage" --bin "$BIN" >"$work/build.log" 2>&1 ||
        fail "tools/build-release.sh --bin $BIN: $(cat "$work/build.log")"
fi
for f in bin/vitrine bin/vitrine-healthcheck share/vitrine/runtime-packages share/doc/vitrine/LICENSE; do
    [ -s "$stage/$f" ] || fail "the staging tree lacks $f"
done
[ -x "$stage/bin/vitrine" ] && [ -x "$stage/bin/vitrine-healthcheck" ] || fail "staged programs are not executable"
extra=$(cd "$stage" && find . -type f ! -path ./bin/vitrine ! -path ./bin/vitrine-healthcheck \
    ! -path ./share/vitrine/runtime-packages ! -path './share/doc/vitrine/*')
[ -z "$extra" ] || fail "unexpected files staged: $extra"

# ---- 2. the staged binary runs ----
want_version=$(sed -n 's/^#define VITRINE_VERSION "\(.*\)"$/\1/p' src/base/cli.h)
[ -n "$want_version" ] || fail "no VITRINE_VERSION in src/base/cli.h"
version=$("$stage/bin/vitrine" --version) || fail "--version failed"
[ "$version" = "vitrine $want_version" ] || fail "--version said '$version', want 'vitrine $want_version'"

# The ENTRYPOINT as the image runs it, JSON exec form, as a list of words.
entry=$(python3 - Dockerfile <<'EOF'
import json, re, sys
lines = [l for l in open(sys.argv[1]).read().replace("\\\n", " ").splitlines()
         if re.match(r"\s*ENTRYPOINT\s", l)]
if len(lines) != 1:
    sys.exit(f"{len(lines)} ENTRYPOINT lines")
words = json.loads(lines[0].split(None, 1)[1])
print("\n".join(words))
EOF
) || fail "the Dockerfile's ENTRYPOINT is not one JSON exec form: $entry"
mapfile -t entry_words <<<"$entry"
[ "${entry_words[0]}" = vitrine ] && [ "${entry_words[1]}" = serve ] ||
    fail "ENTRYPOINT does not run 'vitrine serve': ${entry_words[*]}"
[[ " ${entry_words[*]} " == *" --host 0.0.0.0 "* ]] || fail "ENTRYPOINT does not listen on 0.0.0.0"
[[ " ${entry_words[*]} " == *" --data /data "* ]] || fail "ENTRYPOINT does not use /data"
[[ " ${entry_words[*]} " == *" --weights /weights/"* ]] || fail "ENTRYPOINT takes no weights from /weights"

# The probe fails while nothing listens. A free port: bind 0 and let go.
free_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
VITRINE_PORT=$free_port "$stage/bin/vitrine-healthcheck" 2>"$work/probe.err" &&
    fail "vitrine-healthcheck passed with nothing on port $free_port"
grep -q "nothing listens on 127.0.0.1:$free_port" "$work/probe.err" ||
    fail "vitrine-healthcheck's message: $(cat "$work/probe.err")"

"$stage/bin/vitrine" "${entry_words[@]:1}" --host 127.0.0.1 --port 0 --data "$work/data" \
    --weights "$MODEL" 2>"$log" &
pid=$!
port=
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "the staged server exited early"
    sleep 0.1
done
[ -n "$port" ] || fail "no 'listening on' line from the staged server"
base=http://127.0.0.1:$port
[ "$(curl -sS --max-time 5 "$base/healthz")" = "healthz check passed" ] || fail "/healthz"
[ "$(curl -sS --max-time 5 "$base/readyz")" = "all shards are ready" ] || fail "/readyz"
VITRINE_PORT=$port "$stage/bin/vitrine-healthcheck" || fail "vitrine-healthcheck failed against the live server"
"$stage/bin/vitrine-healthcheck" "$port" || fail "vitrine-healthcheck PORT failed against the live server"

# The model path of the staged binary (OpenBLAS, utf8proc, libwebp loaded
# from the listed packages) against the reference embeddings.
python3 - "$base" "$EXPECTED" "$FIX/images/coffee_lossy.webp" <<'EOF' || fail "embeddings from the staged binary"
import base64, json, math, sys, urllib.request
base, expected, webp = sys.argv[1:]
exp = json.load(open(expected))
ref = {"a photo of a cat": next(t["text_embeds"] for t in exp["texts"] if t["text"] == "a photo of a cat"),
       "webp": exp["images"]["coffee_lossy.webp"]["image_embeds"]}
body = json.dumps({"model": "tiny-p32", "input": [
    {"text": "a photo of a cat"},
    {"image": "data:image/webp;base64," + base64.b64encode(open(webp, "rb").read()).decode()}]}).encode()
req = urllib.request.Request(base + "/v1/embeddings", data=body, headers={"Content-Type": "application/json"})
data = json.load(urllib.request.urlopen(req, timeout=30))["data"]
for d, key in zip(data, ["a photo of a cat", "webp"]):
    a, b = d["embedding"], ref[key]
    c = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    if c < 0.99999:
        print(f"release.sh: {key}: cosine {c:.7f} to the reference, want >= 0.99999")
        sys.exit(1)
EOF
kill -TERM "$pid"
wait "$pid"
status=$?
pid=
[ "$status" = 0 ] || fail "the staged server exited with $status after SIGTERM"
VITRINE_PORT=$port "$stage/bin/vitrine-healthcheck" 2>/dev/null && fail "vitrine-healthcheck passed after the server stopped"

# ---- 3. the runtime packages cover every shared library ----
# Packages are named with this machine's architecture: where the arm64
# copies are installed too (make deps CROSS=aarch64-linux-gnu-, as CI
# does), a bare libuv1 is ambiguous to dpkg.
arch=$(dpkg --print-architecture)
mapfile -t listed <"$stage/share/vitrine/runtime-packages"
[ ${#listed[@]} -gt 0 ] || fail "the runtime package list is empty"
for p in "${listed[@]}"; do
    [[ $p =~ ^[a-z0-9][a-z0-9.+-]+$ ]] || fail "runtime package '$p' is not a Debian package name"
    case $p in *-dev) fail "runtime package $p is a development package" ;; esac
    dpkg-query -W -f='${Status}' "$p:$arch" 2>/dev/null | grep -q 'install ok installed' ||
        fail "runtime package $p is not installed here"
done
ldd "$stage/bin/vitrine" >"$work/ldd" || fail "ldd failed"
grep -q 'not found' "$work/ldd" && fail "unresolved libraries: $(grep 'not found' "$work/ldd")"
# Every file of the listed packages, as dpkg installed them. A library is
# covered when the path ldd gives, or the file it resolves to (through
# /lib -> usr/lib or /etc/alternatives), is one of them under either
# prefix of the merged /usr.
for p in "${listed[@]}"; do dpkg -L "$p:$arch"; done | sort -u >"$work/files"
nlibs=0
while read -r lib; do
    nlibs=$((nlibs + 1))
    real=$(readlink -f "$lib")
    : >"$work/names"
    for f in "$lib" "$real"; do
        case $f in /usr/*) printf '%s\n%s\n' "$f" "${f#/usr}" ;; *) printf '%s\n/usr%s\n' "$f" "$f" ;; esac
    done >>"$work/names"
    grep -qxFf "$work/names" "$work/files" ||
        fail "$lib ($real) is loaded by vitrine but belongs to no package of the runtime list: ${listed[*]}"
done < <(awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }' "$work/ldd")
[ $nlibs -ge 5 ] || fail "ldd listed only $nlibs libraries: $(cat "$work/ldd")"
# The libraries named at link time are among them (the Makefile's -l list).
for need in $(readelf -d "$stage/bin/vitrine" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    grep -q "^[[:space:]]*$need " "$work/ldd" || fail "NEEDED $need is not in ldd's list"
done

# ---- 4. the Dockerfile builds what was tested ----
python3 - Dockerfile .dockerignore <<'EOF' || fail "Dockerfile"
import fnmatch, json, re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
stages, cur = [], None
for l in lines:
    op, _, rest = l.partition(" ")
    op = op.upper()
    if op == "FROM":
        words = rest.split()
        platform = [w for w in words if w.startswith("--platform=")]
        cur = {"from": [w for w in words if not w.startswith("--platform=")],
               "platform": platform[0].split("=", 1)[1] if platform else None, "lines": []}
        stages.append(cur)
    elif cur is not None:
        cur["lines"].append((op, rest.strip()))
def fail(msg):
    print("release.sh: Dockerfile: " + msg)
    sys.exit(1)
if len(stages) != 2:
    fail(f"{len(stages)} stages, want a build stage and a runtime stage")
build, run = stages
if build["from"][:1] != ["debian:bookworm-slim"] or run["from"] != ["debian:bookworm-slim"]:
    fail(f"stages FROM {build['from']} and {run['from']}, want debian:bookworm-slim")
if len(build["from"]) != 3 or build["from"][1].upper() != "AS":
    fail("the build stage has no name")
name = build["from"][2]
runs = [r for op, r in build["lines"] if op == "RUN"]
script = [r for r in runs if "tools/build-release.sh" in r]
if len(script) != 1:
    fail(f"{len(script)} RUN lines call tools/build-release.sh, want 1")
m = re.search(r"tools/build-release\.sh\s+--prefix\s+(\S+)", script[0])
if not m or "--bin" in script[0]:
    fail(f"the build does not stage a fresh build with --prefix: {script[0]}")
prefix = m.group(1).rstrip("/")
# Multi-platform builds (docs/arm64.md): the build stage runs on the build
# machine and cross-compiles, so both scripts are told the target
# architecture; the runtime stage is the target's own.
if build["platform"] is not None:
    if build["platform"] != "$BUILDPLATFORM":
        fail(f"the build stage runs on --platform={build['platform']}, want $BUILDPLATFORM")
    if not any(op == "ARG" and r.split("=")[0] == "TARGETARCH" for op, r in build["lines"]):
        fail("the build stage runs on $BUILDPLATFORM without ARG TARGETARCH")
    deps = [r for r in runs if "tools/deps.sh" in r]
    for r in deps + [script[0]]:
        if not re.search(r'--arch\s+"?\$\{?TARGETARCH\}?"?', r):
            fail(f"a build-stage RUN does not pass --arch $TARGETARCH: {r}")
if run["platform"] is not None:
    fail(f"the runtime stage must be the target platform's, not --platform={run['platform']}")
# Nothing else in the build compiles or installs vitrine.
for r in runs:
    if r is script[0]:
        continue
    if re.search(r"\b(cc|gcc|clang|strip|install)\b|make(\s+-\S+)*\s+(vitrine|all)\b|make\s*($|&&)", r):
        fail(f"a RUN besides the script builds or installs: {r}")
copies = [r for op, r in run["lines"] if op == "COPY"]
froms = [c for c in copies if c.startswith(f"--from={name}")]
sources = [c.split()[1] for c in froms]
if f"{prefix}/" not in sources:
    fail(f"the runtime stage does not copy the whole prefix {prefix}/ (copies: {sources})")
pk = f"{prefix}/share/vitrine/runtime-packages"
if pk not in sources:
    fail(f"the runtime stage does not copy {pk}")
other = [s for s in sources if not (s.startswith(prefix + "/") or s.startswith("/opt/weights"))]
if other:
    fail(f"the runtime stage copies from the build stage besides the prefix: {other}")
if any(not c.startswith("--from=") for c in copies):
    fail("the runtime stage copies files from the context")
installs = [r for op, r in run["lines"] if op == "RUN" and "apt-get install" in r]
if len(installs) != 1 or not re.search(r"xargs -a /tmp/runtime-packages\s+apt-get install -y --no-install-recommends\s*&&", installs[0]):
    fail(f"the runtime stage must install exactly the listed packages: {installs}")
tail = installs[0].split("--no-install-recommends", 1)[1]
if re.match(r"\s*[a-z]", tail):
    fail(f"the runtime stage installs packages besides the list: {installs[0]}")
ops = {op: r for op, r in run["lines"]}
user = ops.get("USER", "")
if not user or user in ("root", "0") or user.startswith("0:"):
    fail(f"USER {user!r}: the runtime stage must run as a non-root user")
if not re.search(r"useradd\b.*\b" + re.escape(user) + r"\b", text):
    fail(f"user {user} is never created")
if ops.get("VOLUME") not in ("/data", '["/data"]'):
    fail(f"VOLUME {ops.get('VOLUME')!r}, want /data")
if ops.get("EXPOSE") != "6333":
    fail(f"EXPOSE {ops.get('EXPOSE')!r}, want 6333")
hc = ops.get("HEALTHCHECK", "")
m = re.search(r"\bCMD\s+(.*)$", hc)
if not m:
    fail("no HEALTHCHECK CMD")
try:
    cmd = json.loads(m.group(1))
except ValueError:
    cmd = m.group(1).split()
if cmd[:1] != ["vitrine-healthcheck"]:
    fail(f"HEALTHCHECK runs {cmd}, want the staged vitrine-healthcheck")
for op in ("USER", "VOLUME", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT"):
    if op not in ops:
        fail(f"no {op} in the runtime stage")
# .dockerignore: the build context keeps what the build stage reads.
pats = [l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
needed = ["Makefile", "LICENSE", "README.md", "src/base/util.c", "src/cmd/main.c", "tools/deps.sh",
          "tools/build-release.sh", "tools/healthcheck.sh", "weights/download.sh", "weights/SHA256SUMS"]
for f in needed:
    parts = f.split("/")
    for pat in pats:
        neg = pat.startswith("!")
        p = pat.lstrip("!").strip("/")
        if not neg and any(fnmatch.fnmatch("/".join(parts[:k]), p) or fnmatch.fnmatch("/".join(parts[:k]), "**/" + p)
                           for k in range(1, len(parts) + 1)):
            fail(f".dockerignore pattern {pat!r} leaves out {f}, which the build needs")
EOF
echo "release.sh: ok ($nlibs libraries from ${#listed[@]} packages: ${listed[*]})"
