#!/usr/bin/env bash
# R3: seccloud's forward proxy against Squid, side by side in one run, same origin, same load.
#
# Starts a real nginx origin (1 KiB and 100 KiB files), `seccloud proxy` and Squid (no cache,
# access log on), each with WORKERS worker threads/processes and the same filter data (--filter
# full, the default: every UT1 category blocked and URLhaus, from ../shared/data; --filter
# domains: their domain lists only; see pb_filter_data in lib_proxy_bench.sh), then drives each proxy in turn over keep-alive
# connections with absolute-form requests (as a browser sends to a proxy):
#   closed loop: wrk (each connection sends as soon as its previous answer is in): requests/s;
#   fixed rate:  bench/proxy_load --rate R (open loop, latency from the intended send time).
# Prints requests/s, latency p50/p99/p99.9 and CPU-seconds per 1,000 requests, with
# seccloud/squid ratios.
#
#   bench/proxy_vs_squid.sh [--seconds N] [--connections N] [--workers N] [--rate R]
#                           [--rate-100k R] [--filter full|domains|none] [--binary PATH] [--data DIR]
#
# Needs nginx, squid (squid-openssl or squid), wrk, curl (scripts/install-deps), a built seccloud
# (release preset) and proxy_load. Addresses: 127.79.0.1:8080 origin, 127.79.0.2:3128 seccloud,
# 127.79.0.3:3128 squid; the proxies' admin/cache ports on the same addresses. Run as root (Squid
# drops to user proxy).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib_proxy_bench.sh
source "$here/bench/lib_proxy_bench.sh"
SECONDS_PER_RUN=10
CONNECTIONS=32
WORKERS=1
RATE=1000
RATE_100K=300
FILTER=full
DATA="$here/../shared/data"
BINARY="$here/build/release/apps/seccloud/seccloud"
usage="usage: $0 [--seconds N] [--connections N] [--workers N] [--rate R] [--rate-100k R] [--filter full|domains|none] [--binary PATH] [--data DIR]"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --rate-100k) RATE_100K=$2; shift 2 ;;
    --filter) FILTER=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case $FILTER in full|domains|none) ;; *) echo "$usage" >&2; exit 2 ;; esac
for tool in nginx squid wrk curl pstree python3; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done
[ -x "$BINARY" ] || { echo "$0: $BINARY is missing (cmake --build --preset release --target seccloud)" >&2; exit 1; }
pb_find_load

ORIGIN=127.79.0.1:8080
SECCLOUD_IP=127.79.0.2
SQUID_IP=127.79.0.3
PORT=3128
tmp=$(mktemp -d /tmp/proxy-vs-squid.XXXXXX)
chmod 755 "$tmp"
pb_init

filter_line="filter data: none"
if [ "$FILTER" != none ]; then
  filter_line=$(pb_filter_data "$DATA" "$BINARY" "$FILTER")
  chmod -R a+rX "$tmp/filter"
fi

# ---- origin -------------------------------------------------------------------------------
mkdir -p "$tmp/origin/www"
head -c 1024 /dev/urandom >"$tmp/origin/www/1k"
head -c 102400 /dev/urandom >"$tmp/origin/www/100k"
pb_start_origin "server { listen $ORIGIN; root $tmp/origin/www; }"

# ---- seccloud -----------------------------------------------------------------------------
pb_start_seccloud "$BINARY"

# ---- squid --------------------------------------------------------------------------------
pb_start_squid squid "$SQUID_IP:$PORT" "http_port $SQUID_IP:$PORT"

# Sanity: both proxies return the origin's bytes.
for ip in $SECCLOUD_IP $SQUID_IP; do
  for f in 1k 100k; do
    if ! curl -sf --proxy "http://$ip:$PORT" "http://$ORIGIN/$f" | cmp -s - "$tmp/origin/www/$f"; then
      echo "$0: the proxy on $ip:$PORT does not return /$f intact" >&2
      exit 1
    fi
  done
done

cat >"$tmp/proxy.lua" <<'EOF'
-- Absolute-form requests, as a client configured with a proxy sends them.
wrk.method = "GET"
wrk.path = os.getenv("TARGET_URL")
wrk.headers["Host"] = os.getenv("TARGET_HOST")
-- wrk --latency prints p50/p75/p90/p99 only: p99.9 (microseconds) for the table.
done = function(summary, latency, requests)
  io.write(string.format("p99.9_us %d\n", latency:percentile(99.9)))
end
EOF

to_ms() {  # wrk latency "812.00us" / "1.23ms" / "1.01s" -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

wrk_row() {  # row name ip pid file
  local row=$1 name=$2 ip=$3 pid=$4 file=$5
  TARGET_URL="http://$ORIGIN/$file" TARGET_HOST=$ORIGIN \
    wrk -t1 -c"$CONNECTIONS" -d2s -s "$tmp/proxy.lua" "http://$ip:$PORT" >/dev/null
  local before after out
  before=$(pb_cpu_ns "$pid")
  out=$(TARGET_URL="http://$ORIGIN/$file" TARGET_HOST=$ORIGIN \
    wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$tmp/proxy.lua" "http://$ip:$PORT")
  after=$(pb_cpu_ns "$pid")
  echo "$out" >"$tmp/wrk-$row-$name.txt"
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "$0: $name answered errors for /$file:" >&2
    echo "$out" >&2
    exit 1
  fi
  local requests
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  R[$row,$name,rps]=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  R[$row,$name,p50]=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  R[$row,$name,p99]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  R[$row,$name,p999]=$(awk '$1 == "p99.9_us" {printf "%.3f", $2 / 1000}' <<<"$out")
  R[$row,$name,cpu]=$(awk -v t=$((after - before)) -v n="$requests" \
    'BEGIN { printf "%.4f", (n > 0 ? t / 1e9 / n * 1000 : 0) }')
}

rate_row() {  # row name ip pid file rate
  local size=1024
  [ "$5" = 100k ] && size=102400
  pb_measure "$1" "$2" "$4" -- --proxy "$3:$PORT" --mode http --url "http://$ORIGIN/$5" \
    --size $size --connections "$CONNECTIONS" --rate "$6" --warmup 2 --seconds "$SECONDS_PER_RUN"
}

rows=()
for file in 1k 100k; do
  rows+=("wrk-$file")
  for who in seccloud squid; do
    if [ $who = seccloud ]; then ip=$SECCLOUD_IP pid=$seccloud_pid; else ip=$SQUID_IP pid=$squid_pid; fi
    wrk_row "wrk-$file" $who "$ip" "$pid" $file
  done
done
for file in 1k 100k; do
  rate=$RATE
  [ $file = 100k ] && rate=$RATE_100K
  rows+=("rate-$file")
  for who in seccloud squid; do
    if [ $who = seccloud ]; then ip=$SECCLOUD_IP pid=$seccloud_pid; else ip=$SQUID_IP pid=$squid_pid; fi
    rate_row "rate-$file" $who "$ip" "$pid" $file "$rate"
  done
done

label() {  # row metric
  local what
  case $1 in
    wrk-1k) what="closed loop (wrk), 1 KiB: requests/s" ;;
    wrk-100k) what="closed loop (wrk), 100 KiB: requests/s" ;;
    rate-1k) what="fixed rate $RATE/s (proxy_load), 1 KiB: requests/s" ;;
    rate-100k) what="fixed rate $RATE_100K/s (proxy_load), 100 KiB: requests/s" ;;
  esac
  pb_metric_label "$2" "$what"
}

echo
echo "seccloud proxy vs Squid $(squid -v | head -1 | awk '{print $4}'): $WORKERS worker(s) each," \
  "$CONNECTIONS keep-alive connections, ${SECONDS_PER_RUN}s per row after 2s warm-up," \
  "$(nproc) CPUs ($(uptime | sed 's/.*load/load/'))"
echo "$filter_line"
pb_print_rows label "${rows[@]}"
echo "seccloud: $BINARY"
echo "(ratio = seccloud/squid: higher is better for requests/s, lower for latency and CPU; at a"
echo " fixed rate latency counts from the intended send time, and requests/s is the offered rate"
echo " when both keep up)"
