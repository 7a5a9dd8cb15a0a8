#!/usr/bin/env bash
# docs_examples.sh - every curl example of docs/http-api.md runs, in the
# order of the page, against the real binary with the fixture model, and
# every request in it answers 2xx (curl --fail-with-body), so the reference
# cannot drift from the server. An example is an indented code block with
# a curl in it; each block runs as one bash script (set -e, pipefail) in a
# folder holding the photos the examples name (shoe.jpg, boot.jpg). What
# the page says and the fixture server differs in is replaced before a
# block runs: the port, the model's dimension (the fixture model's is 64,
# ViT-B/32's 512), the data directory (/var/lib/vitrine) and snapshot
# names (the page shows one of 2026-01-31; the newest file is used).
# VITRINE_BIN is exported by tests/run.sh; the fixtures are the copy in
# tests/fixtures/clip, or the folder named by VITRINE_FIXTURES.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${VITRINE_BIN:-./vitrine}
FIX=${VITRINE_FIXTURES:-$PWD/tests/fixtures/clip}
MODEL=$FIX/models/tiny-p32
DOC=$PWD/docs/http-api.md
work=$(mktemp -d)
log=$work/serve.log
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() {
    echo "docs_examples.sh: FAIL: $*"
    [ -s "$log" ] && { echo "--- server log (last 30 lines)"; tail -n 30 "$log"; }
    exit 1
}
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the examples"; exit 77; }

"$BIN" serve --port 0 --data "$work/data" --weights "$MODEL" 2>"$log" &
pid=$!
port=
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited early"
    sleep 0.1
done
[ -n "$port" ] || fail "no 'listening on' line in the log"
dim=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["projection_dim"])' "$MODEL/config.json") ||
    fail "no projection_dim in $MODEL/config.json"

mkdir -p "$work/cwd" "$work/blocks"
cp "$FIX/images/astronaut_q95_444.jpg" "$work/cwd/shoe.jpg"
cp "$FIX/images/rocket.jpg" "$work/cwd/boot.jpg"

python3 - "$DOC" "$work/blocks" "$port" "$dim" "$work/data" >/dev/null <<'EOF' || fail "could not extract the examples"
import re, sys
doc, out, port, dim, data = sys.argv[1:]
lines = open(doc).read().split("\n")
blocks, cur, prev_blank = [], None, True
for line in lines + [""]:
    indented = re.match(r"^ {4,}\S", line) is not None
    if cur is not None:
        if line.strip() == "" or indented:
            cur.append(line)
            continue
        blocks.append(cur)
        cur = None
    if indented and prev_blank:
        cur = [line]
    prev_blank = line.strip() == ""
n = 0
for b in blocks:
    text = "\n".join(b).rstrip() + "\n"
    if not re.search(r"^\s*(curl|printf) ", text, re.M):
        continue
    text = text.replace("localhost:6333", "127.0.0.1:" + port)
    text = text.replace('"size": 512', '"size": ' + dim)
    text = text.replace("/var/lib/vitrine/", data + "/")
    # A snapshot name shown on the page becomes the newest such file, as a
    # command substitution (closing and reopening a single-quoted string
    # when the name sits inside one).
    fixed = []
    for line in text.split("\n"):
        def sub(m):
            coll = m.group(1)
            d = data + "/snapshots" + ("" if coll == "full-snapshot" else "/" + coll)
            expr = f'$(ls -t {d} | grep "^{coll}-.*\\.snapshot$" | head -1)'
            inside = line[:m.start()].count("'") % 2 == 1
            return f"'\"{expr}\"'" if inside else f'"{expr}"'
        fixed.append(re.sub(r"([a-z][a-z-]*)-(?:0-)?2026-01-31-12-00-00\.snapshot", sub, line))
    n += 1
    with open(f"{out}/{n:03d}.sh", "w") as f:
        f.write("\n".join(fixed))
print(n)
EOF
nblocks=$(ls "$work/blocks" | wc -l)
[ "$nblocks" -ge 14 ] || fail "only $nblocks example blocks found in $DOC"

# Each block runs in a bash of its own (set -e would be off in a subshell
# tested with ||), with curl failing on any status but 2xx.
cat >"$work/run-block.sh" <<'EOF'
set -e -o pipefail
curl() { command curl -sS --fail-with-body --max-time 60 "$@"; echo; }
cd "$1"
# shellcheck disable=SC1090
. "$2"
EOF
ran=0
for b in "$work/blocks"/*.sh; do
    bash "$work/run-block.sh" "$work/cwd" "$b" >"$work/out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "--- the example"
        cat "$b"
        echo "--- its output"
        tail -c 3000 "$work/out"
        fail "an example of docs/http-api.md failed (block $(basename "$b" .sh), exit status $rc)"
    fi
    # DOCS_EXAMPLES_VERBOSE=1 shows what each block answered.
    [ -n "${DOCS_EXAMPLES_VERBOSE:-}" ] && { echo "--- $(basename "$b")"; cut -c1-300 "$work/out"; }
    ran=$((ran + 1))
done
kill -TERM "$pid"
wait "$pid"
status=$?
pid=
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
echo "docs_examples.sh: ok ($ran example blocks)"
