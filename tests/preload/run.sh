#!/usr/bin/env bash
# ctest interop_preload_shim: the preload shim's behaviour as a program sees
# it. Makes a namespace with a tap (Linux's end 10.81.0.1 inside it), starts
# Linux peers there (an echo on 7001, a sink on 7002), and runs shim_check
# with LD_PRELOAD (sendpath at 10.81.0.2 over the tap); then checks that a
# program that writes 8 MiB and exits without closing gets them delivered.
#
#   tests/preload/run.sh SHIM SHIM_CHECK      (as root; exit 77 = skipped)
set -euo pipefail
SHIM=$1
CHECK=$2
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (network namespace, tap)"; exit 77; fi
[ -c /dev/net/tun ] || { echo "SKIP: /dev/net/tun missing"; exit 77; }
for p in socat nc ip; do
  command -v $p >/dev/null || { echo "SKIP: $p missing"; exit 77; }
done

NS=spshimt$$
TAP=spst$$
PEER=10.81.0.1
SELF=10.81.0.2
WORK=$(mktemp -d)
T="timeout 10"

cleanup() {
  set +e
  [ -n "${PIDS:-}" ] && kill $PIDS 2>/dev/null
  $T ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null
  sleep 0.2
  $T ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
  $T ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

$T ip netns add "$NS"
in_ns() { $T ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip tuntap add dev "$TAP" mode tap vnet_hdr
in_ns ip addr add "$PEER/24" dev "$TAP"
in_ns ip link set "$TAP" up

# SYNs to 7998 vanish (for ETIMEDOUT).
in_ns nft add table inet shimt
in_ns nft add chain inet shimt input '{ type filter hook input priority 0; }'
in_ns nft add rule inet shimt input tcp dport 7998 drop

PIDS=""
timeout 300 ip netns exec "$NS" socat TCP-LISTEN:7001,bind=$PEER,fork,reuseaddr EXEC:cat &
PIDS="$PIDS $!"
# A slow sink (a 64 KiB receive buffer read at about 8 MB/s), so that much of
# what the exiting program wrote is still in its send buffer when it exits.
cat > "$WORK/sink.py" <<'PY'
import socket, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
ls.bind((sys.argv[1], 7002)); ls.listen(1)
c, _ = ls.accept()
with open(sys.argv[2], "wb") as out:
    while True:
        b = c.recv(65536)
        if not b: break
        out.write(b); out.flush()
        time.sleep(0.008)
PY
timeout 300 ip netns exec "$NS" python3 "$WORK/sink.py" $PEER "$WORK/rx" &
PIDS="$PIDS $!"
sleep 0.5

export LD_PRELOAD_SHIM="$SHIM"
run_shim() {
  env LD_PRELOAD="$SHIM" SENDPATH_NETNS="$NS" SENDPATH_DEV="$TAP" SENDPATH_ADDR="$SELF/24" \
    SENDPATH_LINGER=${LINGER:-20} SP_PEER=$PEER SP_SELF=$SELF SP_NS="$NS" "$@"
}

echo "== shim_check (gtest) under LD_PRELOAD"
timeout 120 bash -c "$(declare -f run_shim); SHIM='$SHIM' NS='$NS' TAP='$TAP' SELF='$SELF' PEER='$PEER' run_shim '$CHECK'"

echo "== exit without close: 8 MiB must still arrive"
N=$((8 << 20))
SENDPATH_NSTAT="$WORK/nstat.txt" timeout 60 bash -c "$(declare -f run_shim); SHIM='$SHIM' NS='$NS' TAP='$TAP' SELF='$SELF' PEER='$PEER' run_shim '$CHECK' --write-and-exit $N"
for _ in $(seq 1 300); do
  [ -f "$WORK/rx" ] && [ "$(stat -c %s "$WORK/rx")" -ge "$N" ] && break
  sleep 0.1
done
GOT=$(stat -c %s "$WORK/rx" 2>/dev/null || echo 0)
# shim_check writes 64 KiB blocks of 'a'..'z' repeated, each block from 'a'.
WANT=$(python3 -c "
import hashlib,sys
n=int(sys.argv[1]); b=bytes(97+i%26 for i in range(65536)); h=hashlib.sha256()
while n>0: h.update(b[:min(n,65536)]); n-=65536
print(h.hexdigest())" "$N")
HAVE=$(sha256sum < "$WORK/rx" | cut -d' ' -f1)
echo "received $GOT of $N bytes"
# SENDPATH_NSTAT: the stack's counters at exit, as nstat -a prints them.
grep -E '^TcpActiveOpens +1 ' "$WORK/nstat.txt" ||
  { echo "FAIL: SENDPATH_NSTAT has no TcpActiveOpens 1"; cat "$WORK/nstat.txt"; exit 1; }
SEGS=$(awk '$1=="TcpOutSegs"{print $2}' "$WORK/nstat.txt")
[ "${SEGS:-0}" -ge $((N / 1448)) ] || { echo "FAIL: TcpOutSegs $SEGS for $N bytes"; exit 1; }
[ "$GOT" -eq "$N" ] || { echo "FAIL: exit lost data"; exit 1; }
[ "$HAVE" = "$WANT" ] || { echo "FAIL: data differs"; exit 1; }
echo "== a device that cannot be opened: one message, then Linux errnos"
OUT=$(env LD_PRELOAD="$SHIM" SENDPATH_NETNS=no-such-netns-$$ SENDPATH_DEV="$TAP" \
  SENDPATH_ADDR="$SELF/24" timeout 20 "$CHECK" --socket-errnos 2>"$WORK/err")
cat "$WORK/err"
echo "$OUT"
[ "$(grep -c 'sendpath-preload: cannot open tap' "$WORK/err")" -eq 1 ] ||
  { echo "FAIL: expected one message on stderr"; exit 1; }
[ "$OUT" = "$(printf 'EAFNOSUPPORT\nEAFNOSUPPORT')" ] || { echo "FAIL: socket() errnos"; exit 1; }
if command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "test -r $SHIM && test -x $CHECK" 2>/dev/null; then
  echo "== without the privilege to open a tap: EACCES"
  OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups env LD_PRELOAD="$SHIM" \
    SENDPATH_DEV=spnoperm$$ SENDPATH_ADDR="$SELF/24" timeout 20 "$CHECK" --socket-errnos 2>"$WORK/err")
  cat "$WORK/err"
  [ "$OUT" = "$(printf 'EACCES\nEACCES')" ] || { echo "FAIL: socket() errnos: $OUT"; exit 1; }
fi
echo "PASS"
