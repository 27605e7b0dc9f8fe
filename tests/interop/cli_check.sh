#!/usr/bin/env bash
# The command-line tools against Linux, through scripts/netns-lab:
#   sendpath send  -> a Linux sink (socat) in the lab: SHA-256 equal
#   Linux (socat)  -> sendpath serve --once:        SHA-256 equal
# Usage: cli_check.sh SENDPATH NETNS_LAB. Exit 77 (skipped) without root or
# the tools it needs. Bounded: every step runs under `timeout`; the lab is
# removed on any exit.
set -euo pipefail
SENDPATH=$1
LAB=$2
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
  echo "skipped: needs root and /dev/net/tun"; exit 77
fi
for t in ip socat sha256sum; do
  command -v "$t" >/dev/null || { echo "skipped: $t not installed"; exit 77; }
done

export NS="spcli$$" TAP="spcli$$"
work=$(mktemp -d)
cleanup() {
  "$LAB" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$LAB" up >/dev/null

# 1. sendpath -> Linux
timeout 60 ip netns exec "$NS" sh -c 'socat -u TCP-LISTEN:5201,reuseaddr - | sha256sum' \
  >"$work/linux.sha" &
sink=$!
for _ in $(seq 50); do
  ip netns exec "$NS" ss -ltn | grep -q ':5201' && break
  sleep 0.1
done
timeout 60 "$SENDPATH" send 10.77.0.1:5201 --size 32M --netns "$NS" --dev "$TAP" --json \
  >"$work/send.json"
wait "$sink"
sent=$(grep -o '"sha256":"[0-9a-f]*"' "$work/send.json" | cut -d'"' -f4)
got=$(cut -d' ' -f1 "$work/linux.sha")
echo "send:  sendpath $sent"
echo "       linux    $got"
[ -n "$sent" ] && [ "$sent" = "$got" ]

# 2. Linux -> sendpath serve
head -c 16777216 /dev/urandom >"$work/data"
want=$(sha256sum "$work/data" | cut -d' ' -f1)
timeout 60 "$SENDPATH" serve 5001 --once --json --timeout 50 --netns "$NS" --dev "$TAP" \
  >"$work/serve.json" 2>"$work/serve.err" &
server=$!
for _ in $(seq 50); do
  grep -q listening "$work/serve.err" 2>/dev/null && break
  sleep 0.1
done
timeout 30 ip netns exec "$NS" socat -u "$work/data" TCP:10.77.0.2:5001
wait "$server"
got=$(grep -o '"sha256":"[0-9a-f]*"' "$work/serve.json" | cut -d'"' -f4)
echo "serve: linux    $want"
echo "       sendpath $got"
[ "$want" = "$got" ]
grep -q '"close":"fin"' "$work/serve.json"
echo "ok"
