#!/usr/bin/env bash
# Unmodified Debian programs over the LD_PRELOAD shim, each against Linux in a
# namespace, with the data checked (issue #18).
#
#   run.sh SHIM SCENARIO      SHIM: path to libsendpath-preload.so, or "" for
#   run.sh SHIM all           the kernel baseline only; all: every scenario,
#   run.sh --list             then the FIGURE lines together
#
# Each scenario runs the program twice in one lab (lib.sh draws it): on
# Linux's own stack in a namespace joined to the peer by a veth pair (the
# kernel baseline), then, when SHIM is given, with LD_PRELOAD=SHIM in an
# empty namespace, its TCP on sendpath through a tap into the peer namespace.
# Both runs are checked (SHA-256 of what arrived, iperf3's byte counts on both
# ends, HTTP status codes, every program exiting 0 on its own), and the last
# line is the figure: goodput over the shim against the kernel's.
#
# By hand, as root, from the source tree (exit 77 = skipped):
#   tests/interop/programs/run.sh "" curl_download            # kernel only
#   tests/interop/programs/run.sh build/release/src/libsendpath-preload.so curl_download
#   SENDPATH_PCAP=/tmp/c.pcap SP_KEEP_WORK=1 tests/interop/programs/run.sh SHIM nc_send
# or through ctest: ctest --test-dir build/release -L interop -R programs_curl
#
# Environment: SP_IPERF_SECONDS (3), SP_BIG_BYTES (100 MiB), SP_KEEP_WORK=1
# keeps the work directory (files, JSON, nginx logs), SP_PROG_NETNS=root runs
# the program under the shim in the root namespace instead of an empty one,
# SP_MODES="shim" skips the baseline. SENDPATH_PCAP, SENDPATH_SYSCTL and the
# shim's other variables pass through to the program.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

SCENARIOS=(
  iperf3_client_up iperf3_client_down iperf3_client_p4 iperf3_client_cubic iperf3_client_reno
  iperf3_server_up iperf3_server_down
  curl_download curl_upload
  socat_send socat_recv
  nc_recv nc_send
  nginx_big nginx_100
)

if [ "${1:-}" = --list ]; then
  printf '%s\n' "${SCENARIOS[@]}"
  exit 0
fi
[ $# -eq 2 ] || {
  echo "usage: $0 SHIM|\"\" SCENARIO|all   (or --list)" >&2
  exit 2
}
SHIM=$1
SCENARIO=$2

# all: every scenario, each in its own lab, then the figures together (the
# table for a note). Exit status: 1 if any failed.
if [ "$SCENARIO" = all ]; then
  failed=()
  figures=()
  for s in "${SCENARIOS[@]}"; do
    rc=0
    out=$("$0" "$SHIM" "$s" 2>&1) || rc=$?
    echo "$out"
    case $rc in
      0) figures+=("$(echo "$out" | grep '^FIGURE')") ;;
      77) figures+=("SKIPPED $s") ;;
      *) failed+=("$s") figures+=("FAILED $s (exit $rc)") ;;
    esac
  done
  echo
  printf '%s\n' "${figures[@]}"
  [ ${#failed[@]} -eq 0 ] || {
    echo "programs: failed: ${failed[*]}"
    exit 1
  }
  exit 0
fi
# shellcheck source=lib.sh
source "$HERE/lib.sh"

printf '%s\n' "${SCENARIOS[@]}" | grep -qx "$SCENARIO" || die "no scenario $SCENARIO (see --list)"
if [ -n "$SHIM" ]; then
  [ -f "$SHIM" ] || die "no shim at $SHIM"
  SHIM=$(readlink -f "$SHIM")
  MODES=${SP_MODES:-kernel shim}
else
  MODES=kernel
fi
IPERF_SECONDS=${SP_IPERF_SECONDS:-3}
BIG_BYTES=${SP_BIG_BYTES:-104857600}

# ---- iperf3 ----------------------------------------------------------------

# The two JSON reports agree: the count one end reports of its peer is the
# count the peer reports itself; the receiver got what the sender sent, less
# what was still in flight when the timed test stopped counting (iperf3's
# receiver stops at TEST_END, so even -n runs differ by a few blocks). With
# -C, both ends ran the algorithm asked for.
check_iperf3() { # check_iperf3 CLIENT_JSON SERVER_JSON REVERSE STREAMS ALGO
  "$PY" - "$@" <<'EOF'
import json, sys
cf, sf, reverse, streams, algo = sys.argv[1:]
c, s = json.load(open(cf)), json.load(open(sf))
for name, j in (("client", c), ("server", s)):
    if "error" in j:
        sys.exit(f"iperf3 {name}: {j['error']}")
ce, se = c["end"], s["end"]
if reverse == "1":
    theirs, own = ce["sum_sent"]["bytes"], se["sum_sent"]["bytes"]
    sent, received = own, ce["sum_received"]["bytes"]
else:
    theirs, own = ce["sum_received"]["bytes"], se["sum_received"]["bytes"]
    sent, received = ce["sum_sent"]["bytes"], own
if theirs != own:
    sys.exit(f"the client reports the server's count as {theirs}, the server {own}")
if not 0 < received <= sent:
    sys.exit(f"received {received} of {sent} bytes")
if sent - received > sent // 10 + (8 << 20):
    sys.exit(f"received {received} of {sent} bytes: more than in-flight data missing")
n = len(ce["streams"])
if n != int(streams):
    sys.exit(f"{n} streams, asked for {streams}")
if algo:
    got = (ce.get("sender_tcp_congestion"), ce.get("receiver_tcp_congestion"))
    if got != (algo, algo):
        sys.exit(f"congestion control (sender, receiver) = {got}, asked for {algo}")
print(f"iperf3: sent {sent}, received {received} bytes, {n} stream(s); "
      f"congestion control {ce.get('sender_tcp_congestion')}/{ce.get('receiver_tcp_congestion')}")
EOF
}

iperf3_args_info() { # sets REVERSE, STREAMS, ALGO from iperf3 client arguments
  REVERSE=0 STREAMS=1 ALGO=""
  while [ $# -gt 0 ]; do
    case $1 in
      -R) REVERSE=1 ;;
      -P) STREAMS=$2; shift ;;
      -C) ALGO=$2; shift ;;
    esac
    shift
  done
}

# The program is the iperf3 client; Linux runs iperf3 -s.
sc_iperf3_client() {
  need_programs iperf3
  iperf3_args_info "$@"
  local mode srv rc out
  for mode in $MODES; do
    use_mode "$mode"
    spawn peer 60 iperf3 -s -1 --json -p 5201 >"$WORK/server.$mode.json"
    srv=$BG_PID
    wait_peer_listen 5201
    rc=0
    prog 60 iperf3 -c "$PEER_IP" -p 5201 -t "$IPERF_SECONDS" --json "$@" \
      >"$WORK/client.$mode.json" || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: iperf3 -c exited with $rc: $(head -c 400 "$WORK/client.$mode.json")"
    rc=0
    wait "$srv" || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: the Linux iperf3 -s exited with $rc"
    out=$(check_iperf3 "$WORK/client.$mode.json" "$WORK/server.$mode.json" \
      "$REVERSE" "$STREAMS" "$ALGO") || die "$mode: iperf3's reports (above)"
    log "$mode: $out"
    check_shim_carried_all_tcp
    record_bps "$(json "$WORK/client.$mode.json" 'j["end"]["sum_received"]["bits_per_second"]')" \
      "iperf3's receiver"
  done
}

# The program is iperf3 -s (-4: the shim takes AF_INET sockets only, and
# iperf3 -s alone listens on an AF_INET6 socket); Linux is the client.
# iperf3 3.12 with --json exits 0 even when it could not connect: the error
# is in the JSON.
peer_iperf3_client() { # the one-shot server is its own readiness probe
  peer 60 iperf3 -c "$PROG_IP" -p 5201 -t "$IPERF_SECONDS" --connect-timeout 1000 --json "$@" \
    >"$WORK/client.$MODE.json" || return
  ! grep -q '^[[:space:]]*"error":' "$WORK/client.$MODE.json"
}

sc_iperf3_server() {
  need_programs iperf3
  iperf3_args_info "$@"
  local mode srv rc out
  for mode in $MODES; do
    use_mode "$mode"
    spawn prog 60 iperf3 -s -1 -4 --json -p 5201 >"$WORK/server.$mode.json"
    srv=$BG_PID
    rc=0
    retry_refused 50 peer_iperf3_client "$@" || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: the Linux iperf3 -c exited with $rc: $(head -c 400 "$WORK/client.$mode.json")"
    rc=0
    wait "$srv" || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: iperf3 -s exited with $rc: $(head -c 400 "$WORK/server.$mode.json")"
    out=$(check_iperf3 "$WORK/client.$mode.json" "$WORK/server.$mode.json" \
      "$REVERSE" "$STREAMS" "$ALGO") || die "$mode: iperf3's reports (above)"
    log "$mode: $out"
    check_shim_carried_all_tcp
    record_bps "$(json "$WORK/client.$mode.json" 'j["end"]["sum_received"]["bits_per_second"]')" \
      "iperf3's receiver"
  done
}

# ---- HTTP: nginx -------------------------------------------------------------

# nginx_conf DIR ROOT: a config of its own in DIR (never the system's), the
# settings of Debian's /etc/nginx/nginx.conf that touch sockets (sendfile,
# tcp_nopush, keepalive), PUT into ROOT/put/ through the dav module.
#
# daemon off and master_process off: one process, in the foreground. The shim
# does not follow fork(): a master would bind the listening socket on sendpath
# and then fork workers, and a sendpath socket, state in the parent's memory
# driven by the parent's stack thread, does not survive into a child (the
# kernel's sockets are shared across fork because they live in the kernel).
nginx_conf() {
  local dir=$1 root=$2
  mkdir -p "$dir/logs" "$dir/tmp" "$root/put"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
  log_format conn '\$connection \$connections_active \$status \$body_bytes_sent \$request';
  access_log $dir/logs/access.log conn;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  default_type application/octet-stream;
  server {
    listen 8080;
    root $root;
    location /put/ {
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 0;
    }
  }
}
EOF
}

nginx_cmd() { echo nginx -p "$1" -c "$1/nginx.conf" -e "$1/logs/error.log"; }

# A server that logged an alert or worse failed in a way its operator would see.
check_nginx_log() {
  if grep -E '\[(alert|crit|emerg)\]' "$1/logs/error.log" >&2; then
    die "nginx logged errors ($1/logs/error.log)"
  fi
}

# curl -w output "CODE BYTES SPEED" checked against the code expected.
check_http() { # check_http WHAT OUTPUT CODE
  local code
  code=$(echo "$2" | cut -d' ' -f1)
  [ "$code" = "$3" ] || die "$1: HTTP status $code, expected $3 (curl -w: $2)"
}

start_peer_nginx() {
  need_programs nginx curl
  nginx_conf "$WORK/peer-nginx" "$WORK/www"
  # shellcheck disable=SC2046
  spawn peer 120 $(nginx_cmd "$WORK/peer-nginx")
  PEER_NGINX=$BG_PID
  wait_peer_listen 8080
}

sc_curl_download() {
  make_file "$WORK/www/big.bin" "$BIG_BYTES"
  start_peer_nginx
  local mode out rc
  for mode in $MODES; do
    use_mode "$mode"
    rc=0
    out=$(prog 60 curl -sS -o "$WORK/got.$mode" -w '%{http_code} %{size_download} %{speed_download}' \
      "http://$PEER_IP:8080/big.bin") || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: curl exited with $rc ($out)"
    check_http "$mode: download" "$out" 200
    check_same_file "$mode: download" "$WORK/www/big.bin" "$WORK/got.$mode"
    check_shim_carried_all_tcp
    record_bps "$(echo "$out" | awk '{print $3 * 8}')" "curl's speed_download"
    rm -f "$WORK/got.$mode"
  done
  stop "$PEER_NGINX"
  check_nginx_log "$WORK/peer-nginx"
}

sc_curl_upload() {
  make_file "$WORK/big.bin" "$BIG_BYTES"
  start_peer_nginx
  local mode out rc
  for mode in $MODES; do
    use_mode "$mode"
    rc=0
    out=$(prog 60 curl -sS -T "$WORK/big.bin" -w '%{http_code} %{size_upload} %{speed_upload}' \
      "http://$PEER_IP:8080/put/big.$mode") || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: curl exited with $rc ($out)"
    check_http "$mode: upload" "$out" 201
    check_same_file "$mode: upload" "$WORK/big.bin" "$WORK/www/put/big.$mode"
    check_shim_carried_all_tcp
    record_bps "$(echo "$out" | awk '{print $3 * 8}')" "curl's speed_upload"
    rm -f "$WORK/www/put/big.$mode"
  done
  stop "$PEER_NGINX"
  check_nginx_log "$WORK/peer-nginx"
}

# nginx is the program; Linux's curl fetches from it.
SMALL_FILES=100
make_small_files() { # sizes 4 KiB * i + 7 * i: none page-aligned, about 20 MiB in all
  local i
  mkdir -p "$WORK/www/small"
  for ((i = 1; i <= SMALL_FILES; i++)); do
    make_file "$WORK/www/small/$i" $((4096 * i + 7 * i))
  done
  echo ok >"$WORK/www/ready.txt"
}

start_prog_nginx() {
  need_programs nginx curl
  nginx_conf "$WORK/nginx.$MODE" "$WORK/www"
  rm -f "$WORK/nginx.$MODE/logs/"*.log
  # shellcheck disable=SC2046
  spawn prog 120 $(nginx_cmd "$WORK/nginx.$MODE")
  PROG_NGINX=$BG_PID
  wait_prog_ready "$PROG_NGINX" peer 5 curl -sf --connect-timeout 1 -o /dev/null "http://$PROG_IP:8080/ready.txt"
}

# Still serving once the test is done, and stopped cleanly by SIGQUIT (graceful
# shutdown): what its operator would check.
stop_prog_nginx() {
  local out rc=0
  out=$(peer 10 curl -sS -o /dev/null -w '%{http_code}' "http://$PROG_IP:8080/ready.txt") ||
    die "$MODE: nginx stopped answering after the test"
  [ "$out" = 200 ] || die "$MODE: nginx answers $out after the test"
  kill -QUIT "$PROG_NGINX" 2>/dev/null || true
  wait "$PROG_NGINX" || rc=$?
  [ "$rc" -eq 0 ] || die "$MODE: nginx exited with $rc"
  check_nginx_log "$WORK/nginx.$MODE"
}

sc_nginx_big() {
  make_file "$WORK/www/big.bin" "$BIG_BYTES"
  echo ok >"$WORK/www/ready.txt"
  local mode out rc
  for mode in $MODES; do
    use_mode "$mode"
    start_prog_nginx
    rc=0
    out=$(peer 60 curl -sS -o "$WORK/got.$mode" -w '%{http_code} %{size_download} %{speed_download}' \
      "http://$PROG_IP:8080/big.bin") || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: curl exited with $rc ($out)"
    check_http "$mode: download from nginx" "$out" 200
    check_same_file "$mode: download from nginx" "$WORK/www/big.bin" "$WORK/got.$mode"
    stop_prog_nginx
    check_shim_carried_all_tcp
    record_bps "$(echo "$out" | awk '{print $3 * 8}')" "curl's speed_download"
    rm -f "$WORK/got.$mode"
  done
}

# 100 clients at once: one Linux curl opening 100 connections together
# (--parallel-immediate: a new connection per transfer rather than waiting to
# reuse one), each fetching its own file. Every status and digest is checked;
# nginx's log must show 100 connections, and the peak of connections active
# at once it saw is printed.
sc_nginx_100() {
  make_small_files
  local mode i rc bytes t0 t1 conns peak
  (cd "$WORK/www/small" && sha256sum $(seq "$SMALL_FILES")) >"$WORK/small.sha"
  for mode in $MODES; do
    use_mode "$mode"
    start_prog_nginx
    rm -rf "$WORK/got.$mode"
    mkdir -p "$WORK/got.$mode"
    : >"$WORK/urls.$mode"
    for ((i = 1; i <= SMALL_FILES; i++)); do
      printf 'url = "http://%s:8080/small/%d"\noutput = "%s/%d"\n' \
        "$PROG_IP" "$i" "$WORK/got.$mode" "$i" >>"$WORK/urls.$mode"
    done
    rc=0
    t0=$(now)
    peer 60 curl -sS --no-progress-meter --parallel --parallel-immediate --parallel-max "$SMALL_FILES" \
      -w '%{http_code} %{size_download}\n' -K "$WORK/urls.$mode" >"$WORK/codes.$mode" || rc=$?
    t1=$(now)
    [ "$rc" -eq 0 ] || die "$mode: curl --parallel exited with $rc"
    [ "$(grep -c '^200 ' "$WORK/codes.$mode")" -eq "$SMALL_FILES" ] ||
      die "$mode: not every client got 200: $(sort "$WORK/codes.$mode" | cut -d' ' -f1 | uniq -c | tr '\n' ' ')"
    (cd "$WORK/got.$mode" && sha256sum -c --quiet "$WORK/small.sha") >&2 ||
      die "$mode: a client's file differs from the server's"
    bytes=$(awk '{s += $2} END {print s}' "$WORK/codes.$mode")
    stop_prog_nginx
    conns=$(awk '$6 ~ /small/ {print $1}' "$WORK/nginx.$mode/logs/access.log" | sort -u | wc -l)
    peak=$(awk '$6 ~ /small/ && $2 > m {m = $2} END {print m + 0}' "$WORK/nginx.$mode/logs/access.log")
    [ "$conns" -eq "$SMALL_FILES" ] || die "$mode: nginx served the clients over $conns connections, expected $SMALL_FILES"
    log "$mode: $SMALL_FILES clients, $SMALL_FILES files of $bytes bytes, SHA-256 equal; nginx saw $conns connections, up to $peak active at once"
    check_shim_carried_all_tcp
    record_goodput "$bytes" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" "all $SMALL_FILES transfers, first connect to last byte"
  done
}

# ---- socat and nc ------------------------------------------------------------

# socat_send: the program (client) sends a file to a Linux socat listener.
sc_socat_send() {
  need_programs socat
  make_file "$WORK/big.bin" "$BIG_BYTES"
  local mode sink rc t0 t1
  for mode in $MODES; do
    use_mode "$mode"
    rm -f "$WORK/got.$mode"
    spawn peer 60 socat -u TCP4-LISTEN:5301,reuseaddr "CREATE:$WORK/got.$mode"
    sink=$BG_PID
    wait_peer_listen 5301
    t0=$(now)
    rc=0
    prog 60 socat -u "OPEN:$WORK/big.bin,rdonly" "TCP4:$PEER_IP:5301" || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: socat (sender) exited with $rc"
    rc=0
    wait "$sink" || rc=$?
    t1=$(now)
    [ "$rc" -eq 0 ] || die "$mode: the Linux socat (receiver) exited with $rc"
    check_same_file "$mode: socat send" "$WORK/big.bin" "$WORK/got.$mode"
    check_shim_carried_all_tcp
    record_goodput "$BIG_BYTES" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" "sender start to receiver exit"
    rm -f "$WORK/got.$mode"
  done
}

# socat_recv: the program listens and receives a file from Linux's socat.
peer_socat_sender() {
  T0=$(now)
  peer 60 socat -u "OPEN:$WORK/big.bin,rdonly" "TCP4:$PROG_IP:5302,connect-timeout=1" 2>/dev/null
}

sc_socat_recv() {
  need_programs socat
  make_file "$WORK/big.bin" "$BIG_BYTES"
  local mode sink rc t1
  for mode in $MODES; do
    use_mode "$mode"
    rm -f "$WORK/got.$mode"
    spawn prog 60 socat -u TCP4-LISTEN:5302,reuseaddr "CREATE:$WORK/got.$mode"
    sink=$BG_PID
    rc=0
    retry_refused 50 peer_socat_sender || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: the Linux socat (sender) exited with $rc"
    rc=0
    wait "$sink" || rc=$?
    t1=$(now)
    [ "$rc" -eq 0 ] || die "$mode: socat (receiver) exited with $rc"
    check_same_file "$mode: socat recv" "$WORK/big.bin" "$WORK/got.$mode"
    check_shim_carried_all_tcp
    record_goodput "$BIG_BYTES" "$(awk -v a="$T0" -v b="$t1" 'BEGIN{print b - a}')" "sender start to receiver exit"
    rm -f "$WORK/got.$mode"
  done
}

# nc_recv: the program (nc client, -d: no stdin) downloads from Linux's
# nc -l, which sends a file and shuts down its side (-N).
sc_nc_recv() {
  need_programs nc
  make_file "$WORK/big.bin" "$BIG_BYTES"
  local mode src rc t0 t1
  for mode in $MODES; do
    use_mode "$mode"
    spawn peer 60 nc -4 -N -l 5401 <"$WORK/big.bin"
    src=$BG_PID
    wait_peer_listen 5401
    t0=$(now)
    rc=0
    prog 60 nc -4 -d "$PEER_IP" 5401 >"$WORK/got.$mode" || rc=$?
    t1=$(now)
    [ "$rc" -eq 0 ] || die "$mode: nc (receiver) exited with $rc"
    rc=0
    wait "$src" || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: the Linux nc -l (sender) exited with $rc"
    check_same_file "$mode: nc recv" "$WORK/big.bin" "$WORK/got.$mode"
    check_shim_carried_all_tcp
    record_goodput "$BIG_BYTES" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" "receiver start to exit"
    rm -f "$WORK/got.$mode"
  done
}

# nc_send: the program listens (nc -l) and sends a file to Linux's nc.
peer_nc_receiver() {
  T0=$(now)
  peer 60 nc -4 -d -w 2 "$PROG_IP" 5402 >"$WORK/got.$MODE" 2>/dev/null
}

sc_nc_send() {
  need_programs nc
  make_file "$WORK/big.bin" "$BIG_BYTES"
  local mode src rc t1
  for mode in $MODES; do
    use_mode "$mode"
    spawn prog 60 nc -4 -N -l 5402 <"$WORK/big.bin"
    src=$BG_PID
    rc=0
    retry_refused 50 peer_nc_receiver || rc=$?
    t1=$(now)
    [ "$rc" -eq 0 ] || die "$mode: the Linux nc (receiver) exited with $rc"
    rc=0
    wait "$src" || rc=$?
    [ "$rc" -eq 0 ] || die "$mode: nc -l (sender) exited with $rc"
    check_same_file "$mode: nc send" "$WORK/big.bin" "$WORK/got.$mode"
    check_shim_carried_all_tcp
    record_goodput "$BIG_BYTES" "$(awk -v a="$T0" -v b="$t1" 'BEGIN{print b - a}')" "receiver start to exit"
    rm -f "$WORK/got.$mode"
  done
}

# ---- main --------------------------------------------------------------------

need_root_and_tun
need_programs ip timeout sha256sum nstat ss
[ -n "$PY" ] || skip "python3 is not installed"
lab_up
mkdir -p "$WORK/www"
start_watchdog "${SP_BUDGET_SECONDS:-90}"
log "$SCENARIO: modes: $MODES${SHIM:+, shim $SHIM}"

case $SCENARIO in
  iperf3_client_up) sc_iperf3_client ;;
  iperf3_client_down) sc_iperf3_client -R ;;
  iperf3_client_p4) sc_iperf3_client -P 4 ;;
  iperf3_client_cubic) sc_iperf3_client -C cubic ;;
  iperf3_client_reno) sc_iperf3_client -C reno ;;
  iperf3_server_up) sc_iperf3_server ;;
  iperf3_server_down) sc_iperf3_server -R ;;
  curl_download) sc_curl_download ;;
  curl_upload) sc_curl_upload ;;
  socat_send) sc_socat_send ;;
  socat_recv) sc_socat_recv ;;
  nc_recv) sc_nc_recv ;;
  nc_send) sc_nc_send ;;
  nginx_big) sc_nginx_big ;;
  nginx_100) sc_nginx_100 ;;
esac
figure "$SCENARIO"
echo "programs: $SCENARIO ok"
