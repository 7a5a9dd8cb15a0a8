#!/usr/bin/env bash
# valgrind_vitrine.sh - runs the vitrine binary under valgrind's memcheck;
# `make valgrind` passes this script to tests/run.sh as the binary, so the
# end-to-end scripts start their servers (and CLI commands) through it.
#
# VALGRIND_BIN: the real binary (default ./vitrine); VALGRIND_LOGS: the
# folder for one log per process (default /tmp). memcheck reports invalid
# reads and writes and uses of uninitialised values as they happen, and
# the leaks (definitely and indirectly lost) at a normal exit, such as a
# server's graceful shutdown on SIGTERM; a process the script kills with
# SIGKILL reports no leaks. With --quiet a clean process leaves an empty
# log, so `make valgrind` fails on any log that is not.
# tests/valgrind.supp holds the suppressions (each says why).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
exec valgrind --quiet --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 \
    --suppressions="$here/tests/valgrind.supp" \
    --log-file="${VALGRIND_LOGS:-/tmp}/vitrine.%p.log" \
    "${VALGRIND_BIN:-$here/vitrine}" "$@"
