#!/usr/bin/env bash
# ctest interop_compare_losses: scripts/compare's per-loss attribution on
# deterministic drop patterns (numgen inc), sendpath's sender beside Linux's.
# For sendpath the mechanism that repaired each drop comes from its trace
# (the cause tcp:tcp_retransmit_skb carries, and the recovery events) and is
# asserted exactly; Linux's is inferred from its capture and only reported,
# as is how often the same inference on sendpath's capture matches its
# trace (both depend on timing on a loaded machine).
#
#   1. 3 segments and a FIN, the third segment dropped: the FIN's SACK
#      shows the hole, RACK marks it lost and fast recovery resends it
#      (no timer: "fast", and the trace's rack event names that segment).
#   2. The same with the retransmission dropped too: nothing is sent after
#      it, so only the retransmission timer finds it: "fast" then "rto",
#      and one RTO.
#   3. Every 20th data packet of 4 MiB: each drop is resent exactly once,
#      by fast recovery or after a loss probe, never by an RTO, and the
#      drops counted "tlp" are at most the probes sent.
#
#   compare_losses_check.sh SCRIPTS_COMPARE SHIM
set -euo pipefail
COMPARE=$1 SHIM=$2
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (namespaces, tap)"; exit 77; fi
for p in dumpcap nft; do
  command -v $p >/dev/null || { echo "SKIP: $p missing"; exit 77; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() {  # $1 = name, then compare's arguments
  local name=$1 rc=0
  shift
  COMPARE_NS_PREFIX=cmpl SHIM=$SHIM timeout 300 "$COMPARE" "$@" --runs 1 --json \
    > "$dir/$name.json" || rc=$?
  [ "$rc" -eq 77 ] && exit 77
  [ "$rc" -eq 0 ] || { echo "FAIL: compare $* exited $rc"; cat "$dir/$name.json"; exit 1; }
}
run tail --every 1000 --phase 2 --size 4344
run tail_rto --every 1000 --phase 2 --burst 2 --size 4344
run every20 --every 20 --size $((4 << 20))
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
fail = []
def load(name):
    r = json.load(open(f"{d}/{name}.json"))
    return r, r["losses"][0], r["runs"]["sendpath"][0], r["runs"]["linux"][0]
def show(name, a, counters):
    for who in ("sendpath", "linux"):
        rows = a[who]["drops"]
        src = "trace" if who == "sendpath" else "capture"
        mechs = [r[src] for r in rows]
        extra = ""
        if who == "sendpath":
            agree = sum(1 for r in rows if r["capture"] == r["trace"])
            extra = f" (its capture's inference agrees on {agree}/{len(rows)})"
        shown = mechs if len(mechs) <= 8 else a[who]["counts"][src]
        print(f"{name}: {who} from its {src}: {shown}{extra}; "
              f"RTOs {counters[who]['TcpExtTCPTimeouts']}, TLPs {counters[who]['TcpExtTCPLossProbes']}")

r, a, s, l = load("tail")
show("tail", a, {"sendpath": s, "linux": l})
rows = a["sendpath"]["drops"]
if [x["trace"] for x in rows] != ["fast"]:
    fail.append(f"tail: sendpath {[x['trace'] for x in rows]}, expected one drop repaired by fast")
elif not rows[0]["trace_detail"].get("rack_marked"):
    fail.append("tail: no rack event for the dropped segment")
elif rows[0]["trace_detail"].get("cause") != "recovery":
    fail.append(f"tail: resent with cause {rows[0]['trace_detail'].get('cause')}")
if s["TcpExtTCPTimeouts"] != 0 or s["TcpRetransSegs"] != 1:
    fail.append(f"tail: sendpath RTOs {s['TcpExtTCPTimeouts']}, retransmissions {s['TcpRetransSegs']}")

r, a, s, l = load("tail_rto")
show("tail_rto", a, {"sendpath": s, "linux": l})
rows = a["sendpath"]["drops"]
if [x["trace"] for x in rows] != ["fast", "rto"]:
    fail.append(f"tail_rto: sendpath {[x['trace'] for x in rows]}, expected fast then rto")
elif len({x["seq"] for x in rows}) != 1:
    fail.append("tail_rto: the two drops are not the same segment")
if s["TcpExtTCPTimeouts"] != 1:
    fail.append(f"tail_rto: sendpath RTOs {s['TcpExtTCPTimeouts']}, expected 1")

r, a, s, l = load("every20")
show("every20", a, {"sendpath": s, "linux": l})
rows = a["sendpath"]["drops"]
if len(rows) != s["drops"] or not rows:
    fail.append(f"every20: {len(rows)} drops logged, the router counted {s['drops']}")
bad = [x for x in rows if x["trace"] not in ("fast", "tlp")]
if bad:
    fail.append(f"every20: {len(bad)} drops repaired otherwise: {bad[:3]}")
if s["lost_tlp"] > s["TcpExtTCPLossProbes"]:
    fail.append(f"every20: {s['lost_tlp']} drops put on probes, only {s['TcpExtTCPLossProbes']} sent")
if s["TcpRetransSegs"] != s["drops"]:
    fail.append(f"every20: {s['TcpRetransSegs']} retransmissions for {s['drops']} drops")
for f in fail:
    print("FAIL:", f)
sys.exit(1 if fail else 0)
PY
