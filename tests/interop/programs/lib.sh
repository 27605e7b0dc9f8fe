# shellcheck shell=bash
# lib.sh: the lab, process bookkeeping and checks shared by run.sh's
# scenarios (sourced, not run). See run.sh for how to use it.
#
# The lab, made per run and named after the runner's pid so that runs from
# other worktrees never collide:
#
#   spprogp<pid>  the Linux peer. Tap spt<pid> (vnet_hdr, persistent, as
#                 scripts/netns-lab makes it) at 10.79.0.1/24: the shim's
#                 link. Veth spvp<pid> at 10.79.1.1/24: the kernel baseline's.
#   spprogk<pid>  the kernel baseline: the same program on Linux's own stack,
#                 veth spvk<pid> at 10.79.1.2/24 (offloads at veth's defaults,
#                 so TSO and GRO are on).
#   spprogs<pid>  where the program under the shim runs: an empty namespace,
#                 loopback only. The shim opens the tap inside spprogp<pid>
#                 (SENDPATH_NETNS), so the namespace the program sits in does
#                 not matter to it; being empty, a TCP socket the shim did
#                 not take (an AF_INET6 one: iperf3 -s without -4) fails with
#                 ENETUNREACH instead of reaching the machine's real network,
#                 and its kernel counters must show no TCP connection at all
#                 (check_shim_carried_all_tcp). SP_PROG_NETNS=root runs it in
#                 the root namespace instead, as the shim's users will.
#
# IPv6 is off in all three, so the links carry only what the test sends.
# Every process started is remembered and killed on exit, failure or signal;
# then every process left in the three namespaces is killed and the
# namespaces deleted (which deletes the tap and the veth pair with them).
# Nothing touches the root namespace's interfaces, routes or firewall.

set -euo pipefail

readonly PEER_TAP_IP=10.79.0.1 PROG_TAP_IP=10.79.0.2
readonly PEER_VETH_IP=10.79.1.1 PROG_VETH_IP=10.79.1.2

NS_P="spprogp$$" NS_K="spprogk$$" NS_S="spprogs$$"
TAP="spt$$" VETH_P="spvp$$" VETH_K="spvk$$"
WORK=""
PIDS=()
PY=$(command -v /usr/bin/python3 || command -v python3 || true)

log() { echo "programs: $*"; }
die() {
  echo "programs: FAIL: $*" >&2
  exit 1
}
skip() {
  echo "programs: skipped: $*"
  exit 77
}

need_root_and_tun() {
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, a tap device)"
  [ -c /dev/net/tun ] || skip "/dev/net/tun is missing (modprobe tun)"
}

need_programs() {
  local p
  for p in "$@"; do
    command -v "$p" >/dev/null 2>&1 || skip "$p is not installed (scripts/setup installs it)"
  done
}

now() { date +%s.%N; }

# ---- bookkeeping ---------------------------------------------------------

# spawn prog|peer SECONDS CMD...: CMD in the background, remembered for
# cleanup; its pid in $BG_PID. Its standard input is the caller's
# (`spawn prog 60 nc -l 5000 <file`): without <&0 a background command in a
# script reads /dev/null. prog and peer exec their `timeout` when called from
# here (IN_BG), so $BG_PID is that of timeout, which passes TERM, QUIT and HUP
# on to the program (ip netns exec execs it).
spawn() {
  IN_BG=1 "$@" <&0 &
  BG_PID=$!
  PIDS+=("$BG_PID")
}

# Waits for a remembered process to exit on its own, at most SECONDS; its
# exit status, or 124 if it had to be killed.
wait_for() {
  local pid=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" && return 0 || return $?
    fi
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true
  sleep 0.5
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 124
}

# Kills a remembered server gently (it may write its results on SIGTERM).
stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  wait_for "$pid" 5 >/dev/null || true
}

ns_exists() { timeout 10 ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

kill_ns_processes() {
  local ns=$1 pids
  ns_exists "$ns" || return 0
  pids=$(timeout 10 ip netns pids "$ns" 2>/dev/null || true)
  # shellcheck disable=SC2086 # one pid a word
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

# A remembered pid that was waited for may since belong to someone else's
# process on this shared machine: signal only the runner's own children.
kill_ours() { # kill_ours SIGNAL
  local pid
  for pid in "${PIDS[@]}"; do
    [ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$$" ] || continue
    kill "-$1" "$pid" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$? ns
  trap - EXIT INT TERM HUP
  kill_ours TERM
  sleep 0.2
  kill_ours KILL
  for ns in "$NS_S" "$NS_K" "$NS_P"; do
    kill_ns_processes "$ns"
    if ns_exists "$ns"; then timeout 10 ip netns del "$ns" 2>/dev/null || true; fi
  done
  if [ -n "$WORK" ] && [ -z "${SP_KEEP_WORK:-}" ]; then rm -rf "$WORK"; fi
  [ -n "$WORK" ] && [ -n "${SP_KEEP_WORK:-}" ] && log "kept $WORK"
  exit "$rc"
}

# A run killed with SIGKILL (never by this harness, but by a user) cannot
# clean up; its namespaces are named after its pid, so a later run deletes
# those whose runner is gone.
sweep_stale_namespaces() {
  local ns pid
  for ns in $(timeout 10 ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^spprog[pks][0-9]+$' || true); do
    pid=${ns#spprog?}
    if ! kill -0 "$pid" 2>/dev/null; then
      log "removing stale namespace $ns (runner $pid is gone)"
      kill_ns_processes "$ns"
      timeout 10 ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

# The whole run is bounded: after BUDGET seconds the watchdog kills what the
# run started (the foreground step then fails) and the run's own trap cleans
# up, before ctest's TIMEOUT would kill the runner without its trap.
start_watchdog() {
  local budget=$1 self=$$
  (
    sleep "$budget" &
    trap 'kill $! 2>/dev/null; exit 0' TERM
    wait $!
    echo "programs: FAIL: over the ${budget} s budget, stopping" >&2
    kill -TERM "$self" 2>/dev/null
    # The runner's trap runs once its foreground step ends: end that step
    # (its own children, through their `timeout`) and all in the namespaces.
    pkill -TERM -P "$self" 2>/dev/null
    for ns in "$NS_S" "$NS_K" "$NS_P"; do kill_ns_processes "$ns"; done
  ) &
  PIDS+=($!)
}

# ---- the lab ---------------------------------------------------------------

in_ns() {
  local ns=$1
  shift
  timeout 10 ip netns exec "$ns" "$@"
}

make_ns() {
  local ns=$1
  timeout 10 ip netns add "$ns"
  in_ns "$ns" ip link set dev lo up
  in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  # Linux's default, whatever this machine's is (a new namespace inherits the
  # root one's): the figures then compare with the kernel as shipped.
  in_ns "$ns" sysctl -qw net.ipv4.tcp_congestion_control=cubic
}

lab_up() {
  sweep_stale_namespaces
  WORK=$(mktemp -d /tmp/spprog.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  make_ns "$NS_P"
  make_ns "$NS_K"
  # The shim's link: Linux's end of the tap, inside the peer namespace.
  in_ns "$NS_P" ip tuntap add dev "$TAP" mode tap vnet_hdr
  in_ns "$NS_P" ip addr add "$PEER_TAP_IP/24" dev "$TAP"
  in_ns "$NS_P" ip link set dev "$TAP" up
  # The kernel baseline's link, made inside the peer namespace with its other
  # end created straight in the baseline namespace (never in the root one).
  in_ns "$NS_P" ip link add "$VETH_P" type veth peer name "$VETH_K" netns "$NS_K"
  in_ns "$NS_P" ip addr add "$PEER_VETH_IP/24" dev "$VETH_P"
  in_ns "$NS_P" ip link set dev "$VETH_P" up
  in_ns "$NS_K" ip addr add "$PROG_VETH_IP/24" dev "$VETH_K"
  in_ns "$NS_K" ip link set dev "$VETH_K" up
  if [ -n "${SHIM:-}" ] && [ "${SP_PROG_NETNS:-}" != root ]; then
    make_ns "$NS_S"
  fi
  log "lab: $NS_P (tap $TAP $PEER_TAP_IP, veth $PEER_VETH_IP), baseline $NS_K ($PROG_VETH_IP), work $WORK"
}

# ---- running the two ends ------------------------------------------------

# use_mode kernel|shim: where the program under test runs, and the addresses
# each end uses to reach the other (PEER_IP, PROG_IP, read by run.sh).
# shellcheck disable=SC2034
use_mode() {
  MODE=$1
  case $MODE in
    kernel)
      PEER_IP=$PEER_VETH_IP
      PROG_IP=$PROG_VETH_IP
      ;;
    shim)
      PEER_IP=$PEER_TAP_IP
      PROG_IP=$PROG_TAP_IP
      # A new shim instance may come up with another MAC address than the
      # last one: Linux's entry for it would hold frames for seconds.
      in_ns "$NS_P" ip neigh flush dev "$TAP" >/dev/null 2>&1 || true
      ;;
    *) die "unknown mode $MODE" ;;
  esac
}

# prog SECONDS CMD...: runs CMD as the program under test, bounded.
prog() {
  local secs=$1
  shift
  case $MODE in
    kernel) ${IN_BG:+exec} timeout "$secs" ip netns exec "$NS_K" "$@" ;;
    shim)
      local -a env=(env LD_PRELOAD="$SHIM" SENDPATH_NETNS="$NS_P" SENDPATH_DEV="$TAP"
        SENDPATH_ADDR="$PROG_TAP_IP/24")
      if [ "${SP_PROG_NETNS:-}" = root ]; then
        ${IN_BG:+exec} timeout "$secs" "${env[@]}" "$@"
      else
        ${IN_BG:+exec} timeout "$secs" ip netns exec "$NS_S" "${env[@]}" "$@"
      fi
      ;;
  esac
}

# peer SECONDS CMD...: runs CMD on the Linux peer, bounded.
peer() {
  local secs=$1
  shift
  ${IN_BG:+exec} timeout "$secs" ip netns exec "$NS_P" "$@"
}

# The peer's listeners are visible to ss; wait until PORT listens there.
wait_peer_listen() {
  local port=$1 i
  for ((i = 0; i < 100; i++)); do
    in_ns "$NS_P" ss -Hltn "sport = :$port" | grep -q . && return 0
    sleep 0.05
  done
  die "the peer never listened on port $port"
}

# The program's listeners are not (the shim's sockets are not the kernel's),
# so a server under test is ready when a probe connects: PROBE is a command
# run on the peer that succeeds once it does. At most 100 tries or 15 s;
# fails at once if the server (PID) exits.
wait_prog_ready() { # wait_prog_ready PID PROBE...
  local pid=$1 i end=$((SECONDS + 15))
  shift
  for ((i = 0; i < 100 && SECONDS < end; i++)); do
    kill -0 "$pid" 2>/dev/null || die "the program under test exited before it answered"
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "the program under test never answered ($*)"
}

# retry_refused N CMD...: runs a client until it connects (the one-shot
# servers under test would be used up by a probe, so the client itself is the
# probe). Gives up after N tries or 15 s; returns the last exit status.
retry_refused() {
  local n=$1 i rc=0 end=$((SECONDS + 15))
  shift
  for ((i = 0; i < n && SECONDS < end; i++)); do
    "$@" && return 0 || rc=$?
    sleep 0.1
  done
  return "$rc"
}

# Under the shim, the program's own namespace must have made no TCP
# connection through the kernel: every one went over sendpath.
check_shim_carried_all_tcp() {
  [ "$MODE" = shim ] && [ "${SP_PROG_NETNS:-}" != root ] || return 0
  local opens
  opens=$(in_ns "$NS_S" nstat -asz TcpActiveOpens TcpPassiveOpens 2>/dev/null |
    awk '/^Tcp/ {s += $2} END {print s + 0}')
  [ "$opens" -eq 0 ] || die "the kernel of the program's namespace opened $opens TCP connections: the shim did not take them"
}

# ---- data and figures ------------------------------------------------------

make_file() { # make_file PATH BYTES: random content
  head -c "$2" /dev/urandom >"$1"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

check_same_file() { # check_same_file WHAT SENT RECEIVED
  local want got
  [ -f "$3" ] || die "$1: nothing arrived ($3 missing)"
  want=$(sha "$2")
  got=$(sha "$3")
  [ "$want" = "$got" ] ||
    die "$1: SHA-256 differs: sent $want ($(stat -c %s "$2") B), got $got ($(stat -c %s "$3") B)"
  log "$1: $(stat -c %s "$3") bytes, SHA-256 equal ($got)"
}

# GOODPUT[kernel|shim] in bit/s; figure prints them at the end.
declare -A GOODPUT=()

record_goodput() { # record_goodput BYTES SECONDS [HOW]
  local bps
  bps=$(awk -v b="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 1e-9; printf "%.0f", b * 8 / s }')
  GOODPUT[$MODE]=$bps
  log "$MODE: $1 bytes in $(awk -v s="$2" 'BEGIN{printf "%.3f", s}') s = $(mbit "$bps") Mbit/s${3:+ ($3)}"
}

record_bps() { # record_bps BITS_PER_SECOND [HOW]
  GOODPUT[$MODE]=$(awk -v b="$1" 'BEGIN{printf "%.0f", b}')
  log "$MODE: $(mbit "$1") Mbit/s${2:+ ($2)}"
}

mbit() { awk -v b="$1" 'BEGIN{printf "%.0f", b / 1e6}'; }

figure() { # figure SCENARIO
  local k=${GOODPUT[kernel]:-} s=${GOODPUT[shim]:-}
  if [ -n "$s" ] && [ -z "$k" ]; then
    echo "FIGURE $1: shim $(mbit "$s") Mbit/s (no kernel baseline run)"
  elif [ -n "$s" ]; then
    echo "FIGURE $1: shim $(mbit "$s") Mbit/s, kernel $(mbit "$k") Mbit/s," \
      "shim/kernel $(awk -v s="$s" -v k="$k" 'BEGIN{printf "%.2f", s / k}')"
  else
    echo "FIGURE $1: kernel $(mbit "$k") Mbit/s (no shim given: kernel baseline only)"
  fi
}

# json FILE EXPR: a value from a JSON file, EXPR a Python expression over `j`.
json() {
  "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
