#!/usr/bin/env bash
# R3: two seccloud binaries (a change and its parent) on the same proxy rows, both running and
# loaded at the same moment (two proxy_load runs side by side), so that a shared machine's load
# hits both alike (measured one after the other, rounds of one binary spread by up to 1.8x on
# the 2-core VM shared with other builds). Rows: plain HTTP keep-alive, CONNECT
# spliced keep-alive, TLS-intercepted keep-alive (1 KiB), TLS-intercepted with a new CONNECT and
# TLS handshake per request (--newconn-rate, default 40/s), and (only when named in --rows)
# splicenew: a new spliced CONNECT per request, also at --newconn-rate; each at a fixed rate
# with proxy_load (open loop), so both binaries do the same work and CPU-seconds per 1,000
# requests compares. Prints, per row, each binary's median over the rounds and the ratio B/A.
# Three more plain rows run only when named in --rows, for the body relay of bodies that are not
# of a known length or that go the other way: chunked (nginx's sub_filter drops the file's
# Content-Length, so the response is chunked), untilclose (neither length nor chunking: nginx
# ends the body by closing, so every request takes a new upstream connection) and upload (a
# POST of --file's size with a Content-Length, answered "ok" by nginx, which discards the body).
# One more, scanned (only when named in --rows): the plain row's GET with proxy.scan on, so each
# response is held for the malware scan (ScanAndRelay) before it goes out; no scand runs
# (on_error: allow: the scan's connect to its socket fails and the body goes on), so what it
# measures is the hold itself — its reads, the look at the client (ClientGone) and, since proxy18,
# the watch on the client's socket — plus that failed connect, the same in both binaries.
#
#   bench/proxy_ab.sh --a OLD_BINARY --b NEW_BINARY [--rounds N] [--seconds N] [--rate R]
#                     [--file 1k|100k] [--connections N] [--workers N] [--newconn-rate R]
#                     [--rows "plain splice splicenew intercept newconn chunked untilclose upload
#                              scanned"]
#                     [--callgrind [--profile DIR]]
#                     [--strace] [--warmup S]
#
# --callgrind runs both proxies under valgrind's callgrind, instrumented only during the measured
# windows, and prints user-space instructions per request (Ir, the proxy's code plus libc,
# OpenSSL, Boost; not the kernel): a count that a loaded machine does not disturb, where CPU time
# does (use a low --rate: callgrind runs ~50x slower). --profile DIR also dumps each measured
# window's profile to DIR/ROW-a.out and DIR/ROW-b.out for callgrind_annotate (where the
# instructions go, not only how many).
#
# --strace attaches `strace -c -f` to both proxies for the measured windows and prints system
# calls per request by name (strace slows every call: CPU and latency are then strace's, only the
# counts compare; use a low --rate).
#
# --warmup S (default 2): seconds of load before each measured window. Every round starts new
# client connections, so a window that begins before their handshakes are done counts them (under
# callgrind on a loaded machine a keep-alive row's instructions per request then move by 2x
# between rounds): give callgrind runs a warmup longer than the handshakes take.
#
# Needs nginx, openssl, pstree, python3 and proxy_load. Addresses 127.79.2.1 (origin, HTTP 8080
# and HTTPS 8443), 127.79.2.2:3128 (A) and 127.79.2.3:3128 (B); PROXY_AB_NET=127.79.N moves all three
# (two runs at once on one machine). No filter data (the URL filter's cost
# is the same in both binaries unless the change is in it).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib_proxy_bench.sh
source "$here/bench/lib_proxy_bench.sh"
A="" B="" PROFILE="" WARMUP=2 ROUNDS=3 SECONDS_PER_RUN=8 RATE=1000 FILE=1k CONNECTIONS=32 WORKERS=1 CALLGRIND=0 STRACE=0 NEWCONN_RATE=40
ROWS="plain splice intercept newconn"
while [ $# -gt 0 ]; do
  case "$1" in
    --a) A=$2; shift 2 ;;
    --b) B=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --file) FILE=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --newconn-rate) NEWCONN_RATE=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --callgrind) CALLGRIND=1; shift ;;
    --strace) STRACE=1; shift ;;
    --profile) PROFILE=$2; shift 2 ;;
    *) echo "usage: $0 --a OLD --b NEW [--rounds N] [--seconds N] [--rate R] [--file 1k|100k] [--connections N] [--workers N] [--newconn-rate R] [--rows LIST] [--callgrind [--profile DIR]] [--strace] [--warmup S]" >&2; exit 2 ;;
  esac
done
[ -x "$A" ] && [ -x "$B" ] || { echo "$0: --a and --b must be seccloud binaries" >&2; exit 2; }
if [ -n "$PROFILE" ]; then
  [ "$CALLGRIND" = 1 ] || { echo "$0: --profile needs --callgrind" >&2; exit 2; }
  mkdir -p "$PROFILE"
  PROFILE=$(cd "$PROFILE" && pwd)
fi
pb_find_load
SIZE=1024
[ "$FILE" = 100k ] && SIZE=102400

NAME=ab.bench.example
NET=${PROXY_AB_NET:-127.79.2}
ORIGIN_IP=$NET.1
PORT=3128
tmp=$(mktemp -d /tmp/proxy-ab.XXXXXX)
chmod 755 "$tmp"
pb_init

mkdir -p "$tmp/pki" "$tmp/origin/www"
(
  cd "$tmp/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=ab root" -keyout root.key -out root.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$NAME" \
    -keyout origin.key -out origin.csr 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$NAME" >origin.ext
  openssl x509 -req -in origin.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
    -sha256 -extfile origin.ext -out origin.pem 2>/dev/null
)
head -c "$SIZE" /dev/urandom >"$tmp/origin/www/$FILE"
chmod -R a+rX "$tmp"
cat >"$tmp/origin/nginx.conf" <<EOF
$(pb_nginx_head "$tmp/origin")
  server {
    listen $ORIGIN_IP:8080;
    root $tmp/origin/www;
    location /chunked/ {
      alias $tmp/origin/www/;
      sub_filter '@@proxy-ab-never-matches@@' 'x';
      sub_filter_types *;
      sub_filter_once off;
    }
    location /until-close/ {
      alias $tmp/origin/www/;
      chunked_transfer_encoding off;
      sub_filter '@@proxy-ab-never-matches@@' 'x';
      sub_filter_types *;
      sub_filter_once off;
    }
    location = /sink {
      client_max_body_size 0;
      default_type text/plain;
      return 200 "ok";
    }
  }
  server {
    listen $ORIGIN_IP:8443 ssl;
    server_name $NAME;
    ssl_certificate $tmp/pki/origin.pem;
    ssl_certificate_key $tmp/pki/origin.key;
    root $tmp/origin/www;
  }
}
EOF
nginx -p "$tmp/origin" -c "$tmp/origin/nginx.conf" -e stderr -g 'daemon off;' 2>"$tmp/origin/out" &
pb_track $!
disown
pb_wait_port $ORIGIN_IP 8443

start_proxy() {  # a|b binary intercept ip scan(true|false): sets pid_a / pid_b
  local dir="$tmp/proxy-$1"
  mkdir -p "$dir"
  local scan_proxy="" scan_rest=""
  if [ "$5" = true ]; then
    scan_proxy="  scan: {max_size: 1048576, on_error: allow}"
    scan_rest="scan: {socket: $dir/scand.sock, clamav: {database: $here/etc/signatures/clamav}}"
  fi
  cat >"$dir/seccloud.yaml" <<EOF
node: {name: ab-$1, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: $4:19000}
tenants:
  - {id: bench, name: bench, networks: [127.0.0.0/24]}
proxy:
  listen: [$4:$PORT]
  workers: $WORKERS
  system_resolver: false
  hosts: {$NAME: [$ORIGIN_IP]}
  tls:
    intercept: $3
    ca_dir: $tmp/ca
    extra_trust: [$tmp/pki/root.pem]
$scan_proxy
$scan_rest
EOF
  [ -f "$tmp/ca/ca.pem" ] || "$2" ca init --config "$dir/seccloud.yaml" >/dev/null
  if [ "$CALLGRIND" = 1 ]; then
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/callgrind.%p" \
      "$2" proxy --config "$dir/seccloud.yaml" 2>>"$dir/out" &
  else
    "$2" proxy --config "$dir/seccloud.yaml" 2>>"$dir/out" &
  fi
  local pid=$!
  pb_track $pid
  disown
  pb_wait_port "$4" $PORT 600
  printf -v "pid_$1" %s "$pid"
}

# Both binaries under the same load at the same moment: two proxy_load runs side by side, one per
# proxy, and each proxy's CPU sampled at the start and end of the shared window.
measure_pair() {  # row -- proxy_load args (without --proxy)
  local row=$1
  shift 2
  "$PROXY_LOAD" --proxy "$IP_A:$PORT" "$@" >"$tmp/a.json" &
  local la=$!
  "$PROXY_LOAD" --proxy "$IP_B:$PORT" "$@" >"$tmp/b.json" &
  local lb=$!
  sleep "$(awk -v w="$WARMUP" 'BEGIN { print w + 0.05 }')"
  local a0 b0 a1 b1
  if [ "$CALLGRIND" = 1 ]; then
    callgrind_control -z "$pid_a" >/dev/null
    callgrind_control -z "$pid_b" >/dev/null
    callgrind_control -i on "$pid_a" >/dev/null
    callgrind_control -i on "$pid_b" >/dev/null
  fi
  local sa="" sb=""
  if [ "$STRACE" = 1 ]; then
    strace -c -f -U name,calls -o "$tmp/strace-a" -p "$pid_a" 2>/dev/null &
    sa=$!
    strace -c -f -U name,calls -o "$tmp/strace-b" -p "$pid_b" 2>/dev/null &
    sb=$!
  fi
  a0=$(pb_cpu_ns "$pid_a")
  b0=$(pb_cpu_ns "$pid_b")
  sleep "$SECONDS_PER_RUN"
  if [ "$STRACE" = 1 ]; then
    kill -INT "$sa" "$sb"
    wait "$sa" "$sb" || true
  fi
  if [ "$CALLGRIND" = 1 ]; then
    # Read while instrumentation is on (callgrind reports nothing once it is off).
    ir_a=$(callgrind_control -e Ir "$pid_a" | awk '$1 == "Th" { gsub(",", "", $3); s += $3 } END { printf "%.0f", s }')
    ir_b=$(callgrind_control -e Ir "$pid_b" | awk '$1 == "Th" { gsub(",", "", $3); s += $3 } END { printf "%.0f", s }')
    if [ -n "$PROFILE" ]; then
      # A dump resets the counters: it holds exactly the window (later rounds overwrite it).
      local who pid
      for who in a b; do
        pid=$pid_a
        [ $who = b ] && pid=$pid_b
        rm -f "$tmp/proxy-$who/callgrind.$pid".*
        callgrind_control -d "$pid" >/dev/null
        cat "$tmp/proxy-$who/callgrind.$pid".* >"$PROFILE/$row-$who.out"
      done
    fi
    callgrind_control -i off "$pid_a" >/dev/null
    callgrind_control -i off "$pid_b" >/dev/null
  fi
  wait $la || { echo "$0: proxy_load failed for A" >&2; exit 1; }
  wait $lb || { echo "$0: proxy_load failed for B" >&2; exit 1; }
  a1=$(pb_cpu_ns "$pid_a")
  b1=$(pb_cpu_ns "$pid_b")
  local who out n before after
  for who in a b; do
    out=$(cat "$tmp/$who.json")
    if [ "$(pb_json_field "$out" errors)" != 0 ]; then
      echo "$0: $who failed requests in $row: $out" >&2
      exit 1
    fi
    n=$(pb_json_field "$out" requests)
    if [ $who = a ]; then before=$a0 after=$a1; else before=$b0 after=$b1; fi
    CPU[$row,$who]="${CPU[$row,$who]:-} $(awk -v t=$((after - before)) -v n="$n" \
      'BEGIN { printf "%.4f", (n > 0 ? t / 1e9 / n * 1000 : 0) }')"
    P99[$row,$who]="${P99[$row,$who]:-} $(pb_json_field "$out" p99_ms)"
    if [ "$STRACE" = 1 ]; then
      # "name calls" lines; strace was attached for the measured window, as the CPU sample.
      SYS[$row,$who]="${SYS[$row,$who]:-}$(awk -v n="$n" -v w="$SECONDS_PER_RUN" -v r="$round" \
        'NF == 2 && $2 ~ /^[0-9]+$/ && $1 != "total" { printf " %s:%s:%.3f", r, $1, $2 / n }' "$tmp/strace-$who")"
    fi
    if [ "$CALLGRIND" = 1 ]; then
      local ir=$ir_a
      [ $who = b ] && ir=$ir_b
      # Requests of the window; the instrumented span is the window itself.
      IR[$row,$who]="${IR[$row,$who]:-} $(awk -v i="$ir" -v n="$n" 'BEGIN { printf "%.0f", (n > 0 ? i / n : 0) }')"
    fi
  done
}

IP_A=$NET.2
IP_B=$NET.3
declare -A CPU P99 IR SYS
ir_a=0 ir_b=0
read -r -a rows <<<"$ROWS"
for row in "${rows[@]}"; do
  case $row in plain | splice | splicenew | intercept | newconn | chunked | untilclose | upload | scanned) ;; *) echo "$0: unknown row $row" >&2; exit 2 ;; esac
done
load_args() {  # row: sets args, and rsize (the response body's size)
  rsize=$SIZE
  case $1 in
    plain | scanned) args=(--mode http --url "http://$ORIGIN_IP:8080/$FILE") ;;
    chunked) args=(--mode http --url "http://$ORIGIN_IP:8080/chunked/$FILE") ;;
    untilclose) args=(--mode http --url "http://$ORIGIN_IP:8080/until-close/$FILE") ;;
    upload)
      args=(--mode http --url "http://$ORIGIN_IP:8080/sink" --upload "$SIZE")
      rsize=2
      ;;
    splice) args=(--mode tls-keepalive --target "$NAME:8443" --path "/$FILE" --cafile "$tmp/pki/root.pem") ;;
    intercept) args=(--mode tls-keepalive --target "$NAME:8443" --path "/$FILE" --cafile "$tmp/ca/ca.pem") ;;
    newconn) args=(--mode tls-newconn --target "$NAME:8443" --path "/$FILE" --cafile "$tmp/ca/ca.pem") ;;
    splicenew) args=(--mode tls-newconn --target "$NAME:8443" --path "/$FILE" --cafile "$tmp/pki/root.pem") ;;
  esac
}
# The proxies' configuration a row needs: plain (false), intercepting (true), scanning (scan).
row_pass() { case $1 in intercept | newconn) echo true ;; scanned) echo scan ;; *) echo false ;; esac; }
for pass in false true scan; do
  wanted=false
  for row in "${rows[@]}"; do
    [ "$(row_pass "$row")" = $pass ] && wanted=true
  done
  [ $wanted = true ] || continue
  intercept=false scan=false
  [ $pass = true ] && intercept=true
  [ $pass = scan ] && scan=true
  start_proxy a "$A" $intercept $IP_A $scan
  start_proxy b "$B" $intercept $IP_B $scan
  for round in $(seq "$ROUNDS"); do
    for row in "${rows[@]}"; do
      if [ "$(row_pass "$row")" != $pass ]; then continue; fi
      load_args "$row"
      rate=$RATE
      case $row in newconn | splicenew) rate=$NEWCONN_RATE ;; esac
      measure_pair "$row" -- "${args[@]}" --size "$rsize" --connections "$CONNECTIONS" \
        --rate "$rate" --warmup "$WARMUP" --seconds "$SECONDS_PER_RUN"
    done
  done
  pb_stop "$pid_a" "$pid_b"
done

median() { tr ' ' '\n' | { grep . || true; } | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "A = $A"
echo "B = $B"
echo "$ROUNDS rounds, A and B side by side, ${SECONDS_PER_RUN}s per row at $RATE/s each (newconn $NEWCONN_RATE/s)," \
  "$CONNECTIONS connections each, /$FILE, $WORKERS worker(s) each, $(nproc) CPUs ($(uptime | sed 's/.*load/load/'))"
printf '%-34s %10s %10s %7s   %s\n' "row (median of rounds)" "A" "B" "B/A" "A rounds | B rounds"
for row in "${rows[@]}"; do
  a=$(median <<<"${CPU[$row,a]}")
  b=$(median <<<"${CPU[$row,b]}")
  printf '%-34s %10s %10s %7s   %s |%s\n' "$row: CPU-s per 1,000 requests" "$a" "$b" "$(pb_ratio "$b" "$a")" "${CPU[$row,a]}" "${CPU[$row,b]}"
  a=$(median <<<"${P99[$row,a]}")
  b=$(median <<<"${P99[$row,b]}")
  printf '%-34s %10s %10s %7s   %s |%s\n' "$row: p99 ms" "$a" "$b" "$(pb_ratio "$b" "$a")" "${P99[$row,a]}" "${P99[$row,b]}"
  if [ "$CALLGRIND" = 1 ]; then
    a=$(median <<<"${IR[$row,a]}")
    b=$(median <<<"${IR[$row,b]}")
    printf '%-34s %10s %10s %7s   %s |%s\n' "$row: user instructions/request" "$a" "$b" "$(pb_ratio "$b" "$a")" "${IR[$row,a]}" "${IR[$row,b]}"
  fi
done
if [ "$STRACE" = 1 ]; then
  echo "system calls per request under strace (median of rounds; A | B):"
  for row in "${rows[@]}"; do
    names=$(tr ' ' '\n' <<<"${SYS[$row,a]:-} ${SYS[$row,b]:-}" | grep . | cut -d: -f2 | sort -u)
    ta=0 tb=0
    for name in $names; do
      # A call one binary never made: no line (grep's status 1 would end the script: pipefail).
      a=$(tr ' ' '\n' <<<"${SYS[$row,a]:-}" | { grep ":$name:" || true; } | cut -d: -f3 | median)
      b=$(tr ' ' '\n' <<<"${SYS[$row,b]:-}" | { grep ":$name:" || true; } | cut -d: -f3 | median)
      printf '  %-10s %-16s %8s %8s\n' "$row" "$name" "${a:-0}" "${b:-0}"
      ta=$(awk -v x="$ta" -v y="${a:-0}" 'BEGIN { print x + y }')
      tb=$(awk -v x="$tb" -v y="${b:-0}" 'BEGIN { print x + y }')
    done
    printf '  %-10s %-16s %8s %8s %7s\n' "$row" "all" "$ta" "$tb" "$(pb_ratio "$tb" "$ta")"
  done
  echo "(under strace: CPU and latency are strace's, only the counts compare)"
fi
[ "$CALLGRIND" = 1 ] && echo "(under callgrind: CPU and latency are valgrind's, only the instruction counts compare)"
true
