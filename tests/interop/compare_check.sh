#!/usr/bin/env bash
# ctest interop_compare_every_20th: scripts/compare on a deterministic loss
# pattern (every 20th data packet dropped by the router), sendpath's sender
# beside Linux's. Asserts what does not depend on timing: every drop is
# repaired by exactly one retransmission (Linux, the reference, is allowed
# the odd spurious one it sends on a loaded machine), by fast recovery and
# not by an RTO, for both senders, and sendpath's counts are Linux's within 10%; its
# loss probes within a quarter of the drops (compare runs sendpath at the
# host's HZ: at HZ=1000 against a 250 Hz kernel CUBIC's cwnd sinks to 2 and
# nearly every drop needs a TLP; at 250 about one run in ten still does,
# docs/linux-differences.md 1a). Medians of 3 runs.
#   compare_check.sh SCRIPTS_COMPARE SHIM
set -euo pipefail
COMPARE=$1 SHIM=$2
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (namespaces, tap)"; exit 77; fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
SHIM=$SHIM timeout 400 "$COMPARE" --every 20 --size $((4 << 20)) --runs 3 --json > "$out" || rc=$?
[ "$rc" -eq 77 ] && exit 77
[ "$rc" -eq 0 ] || { echo "FAIL: compare exited $rc"; cat "$out"; exit 1; }
python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
fail = []
for who in ("sendpath", "linux"):
    m = r["median"][who]
    print(f"{who}: drops {m['drops']}, retransmitted {m['TcpRetransSegs']}, "
          f"fast recoveries {m['recoveries']}, RTOs {m['TcpExtTCPTimeouts']}, "
          f"TLPs {m['TcpExtTCPLossProbes']}, {m['seconds']:.3f} s")
    if m["drops"] == 0: fail.append(f"{who}: the router dropped nothing")
    # Every drop is repaired by one retransmission. sendpath must not
    # retransmit anything else; Linux, the reference, sends a few spurious
    # ones on a loaded machine (seen in CI: 157 and 159 for 155 drops),
    # which is its business, not a failure of sendpath: it gets the 10%
    # that the comparison below allows.
    spurious_ok = 0 if who == "sendpath" else max(2, m["drops"] // 10)
    if not m["drops"] <= m["TcpRetransSegs"] <= m["drops"] + spurious_ok:
        fail.append(f"{who}: {m['TcpRetransSegs']} retransmissions for {m['drops']} drops")
    if m["TcpExtTCPTimeouts"] != 0: fail.append(f"{who}: an RTO on a pattern fast recovery repairs")
    if m["recoveries"] < 0.9 * m["drops"]: fail.append(f"{who}: losses not repaired by fast recovery")
s, l = r["median"]["sendpath"], r["median"]["linux"]
for k in ("TcpRetransSegs", "recoveries"):
    if l[k] and not 0.9 <= s[k] / l[k] <= 1.1:
        fail.append(f"{k}: sendpath {s[k]} vs Linux {l[k]}")
if abs(s["TcpExtTCPLossProbes"] - l["TcpExtTCPLossProbes"]) > 0.25 * l["drops"]:
    fail.append(f"TLPs: sendpath {s['TcpExtTCPLossProbes']} vs Linux {l['TcpExtTCPLossProbes']}")
for f in fail: print("FAIL:", f)
sys.exit(1 if fail else 0)
PY
