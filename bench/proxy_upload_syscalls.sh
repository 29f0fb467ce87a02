#!/usr/bin/env bash
# R3: system calls per 1 MiB upload, seccloud's proxy vs Squid, side by side in one run.
#
#   bench/proxy_upload_syscalls.sh [--uploads N] [--binary PATH]
#
# The same origin (nginx, /upload reads the whole body and answers its length), the same client
# (one curl, keep-alive, N POSTs of the same 1 MiB file, no "Expect: 100-continue"), one worker
# each, no filter data, no scanning. Each proxy's threads are traced with `strace -c` while the N
# uploads run (after one untraced upload that opens the upstream connection); the table gives
# the calls per upload, in total and for the calls that make up most of them. strace makes each
# call slow, not more frequent: counts are exact, times are not reported.
#
# Needs nginx, squid, strace, curl, pstree (scripts/install-deps) and a built seccloud. Run as
# root (Squid drops to the proxy user). Addresses: 127.79.0.1:8080 origin, 127.79.0.2:3128
# seccloud, 127.79.0.3:3128 squid (as bench/proxy_vs_squid.sh: do not run both at once).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib_proxy_bench.sh
. "$here/bench/lib_proxy_bench.sh"

UPLOADS=20
BINARY=$here/build/release/apps/seccloud/seccloud
WORKERS=1
FILTER=none
usage="usage: $0 [--uploads N] [--binary PATH]"
while [ $# -gt 0 ]; do
  case $1 in
    --uploads) UPLOADS=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
for tool in nginx squid strace curl pstree; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done
[ -x "$BINARY" ] || { echo "$0: $BINARY is missing (cmake --build --preset release --target seccloud)" >&2; exit 1; }

ORIGIN=127.79.0.1:8080
SECCLOUD_IP=127.79.0.2
SQUID_IP=127.79.0.3
PORT=3128
tmp=$(mktemp -d /tmp/proxy-upload-syscalls.XXXXXX)
chmod 755 "$tmp"
pb_init

# ---- origin: /upload reads the whole body (in memory up to 2 MiB) and answers its length ----
pb_start_origin "server {
    listen $ORIGIN;
    client_max_body_size 8m;
    location = /upload { client_body_buffer_size 2m; proxy_pass http://$ORIGIN/sink; }
    location = /sink { default_type text/plain; return 200 \"\$content_length\"; }
  }"

# ---- seccloud -------------------------------------------------------------------------------
pb_start_seccloud "$BINARY"

# ---- squid ----------------------------------------------------------------------------------
pb_start_squid squid "$SQUID_IP:$PORT" "http_port $SQUID_IP:$PORT"

head -c $((1 << 20)) /dev/urandom >"$tmp/body"
urls=()
for i in $(seq "$UPLOADS"); do urls+=("http://$ORIGIN/upload?$i"); done

# trace who pid: the N uploads through the proxy at $ip, every thread of `pid` (and of its
# child processes: Squid's kids) traced; writes $tmp/$who.strace.
trace() {
  local who=$1 ip=$2 pid=$3 args=() p t
  # One untraced upload first: the upstream connection is open when the count begins.
  [ "$(curl -s --proxy "http://$ip:$PORT" -H 'Expect:' --data-binary @"$tmp/body" "http://$ORIGIN/upload?warm")" = 1048576 ] ||
    { echo "$0: $who did not relay the warm-up upload whole" >&2; exit 1; }
  for p in $(pstree -pT "$pid" | grep -o '([0-9]*)' | tr -d '()'); do
    for t in /proc/"$p"/task/*; do args+=(-p "${t##*/}"); done
  done
  strace -c -qq -o "$tmp/$who.strace" "${args[@]}" &
  local strace_pid=$!
  sleep 1  # attached
  local out
  out=$(curl -s --proxy "http://$ip:$PORT" -H 'Expect:' --data-binary @"$tmp/body" "${urls[@]}")
  sleep 0.5
  kill -INT $strace_pid
  wait $strace_pid || true
  local want
  want=$(printf '1048576%.0s' $(seq "$UPLOADS"))
  [ "$out" = "$want" ] || { echo "$0: $who did not relay every upload whole: $out" >&2; exit 1; }
}
trace seccloud $SECCLOUD_IP $seccloud_pid
trace squid $SQUID_IP "$squid_pid"

# calls name file: the count of one system call ("total": all) in an strace -c summary.
calls() {
  awk -v n="$1" '$NF == n { print $4; found = 1 } END { if (!found) print 0 }' "$2"
}
per() { awk -v c="$1" -v n="$UPLOADS" 'BEGIN { printf "%.1f", c / n }'; }

names=$(cat "$tmp/seccloud.strace" "$tmp/squid.strace" | awk '$NF ~ /^[a-z_0-9]+$/ && $NF != "total" && $NF != "syscall" { print $NF }' | sort -u)
echo "system calls per 1 MiB upload (keep-alive, $UPLOADS uploads, strace -c; $(squid -v | head -1 | awk '{print $4}') squid)"
printf '%-22s %10s %10s %8s\n' "call" "seccloud" "squid" "ratio"
for n in total $names; do
  a=$(calls "$n" "$tmp/seccloud.strace")
  b=$(calls "$n" "$tmp/squid.strace")
  printf '%-22s %10s %10s %8s\n' "$n" "$(per "$a")" "$(per "$b")" "$(pb_ratio "$a" "$b")"
done
