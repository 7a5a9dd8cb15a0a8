#!/bin/bash
# vitrine-healthcheck [PORT] - the Docker image's HEALTHCHECK: exits 0 when
# the server on this machine answers GET /readyz with 200 within 5 s, 1
# otherwise. PORT defaults to $VITRINE_PORT, else 6333.
#
# It speaks HTTP through bash's /dev/tcp, so the runtime image needs no curl
# or wget (and their libraries) just to be probed; tools/build-release.sh
# installs it as bin/vitrine-healthcheck, and tests/e2e/release.sh runs it
# against a live server and a closed port.
port=${1:-${VITRINE_PORT:-6333}}
case $port in '' | *[!0-9]*) echo "vitrine-healthcheck: bad port '$port'" >&2; exit 2 ;; esac
if ! { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
    echo "vitrine-healthcheck: nothing listens on 127.0.0.1:$port" >&2
    exit 1
fi
printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$port" >&3
if ! IFS= read -r -t 5 line <&3; then
    echo "vitrine-healthcheck: no answer from 127.0.0.1:$port within 5 s" >&2
    exit 1
fi
line=${line%$'\r'}
case $line in
    'HTTP/1.1 200 '* | 'HTTP/1.0 200 '*) exit 0 ;;
esac
echo "vitrine-healthcheck: GET /readyz answered '$line'" >&2
exit 1
