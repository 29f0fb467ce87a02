#!/usr/bin/env bash
# R3: seccloud's forward proxy against Squid, side by side in one run, same origin, same load.
#
# Starts a real nginx origin (1 KiB and 100 KiB files), `seccloud proxy` and Squid (no cache,
# access log on), each with WORKERS worker threads/processes, then drives each proxy in turn with
# wrk over keep-alive connections (absolute-form requests, as a browser sends to a proxy) and
# prints requests/s, latency p50/p99 and CPU-seconds per 1,000 requests, with seccloud/squid.
#
#   bench/proxy_vs_squid.sh [--seconds N] [--connections N] [--workers N] [--binary PATH]
#
# Needs nginx, squid (squid-openssl or squid) and wrk (scripts/install-deps) and a built seccloud (release preset).
# Addresses: 127.79.0.1:8080 origin, 127.79.0.2:3128 seccloud, 127.79.0.3:3128 squid; the
# proxies' admin/cache ports on the same addresses. Run as root (Squid drops to user proxy).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_RUN=10
CONNECTIONS=32
WORKERS=1
BINARY="$here/build/release/apps/seccloud/seccloud"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--connections N] [--workers N] [--binary PATH]" >&2; exit 2 ;;
  esac
done
for tool in nginx squid wrk curl; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done
[ -x "$BINARY" ] || { echo "$0: $BINARY is missing (cmake --build --preset release --target seccloud)" >&2; exit 1; }

ORIGIN=127.79.0.1:8080
SECCLOUD_IP=127.79.0.2
SQUID_IP=127.79.0.3
PORT=3128
tmp=$(mktemp -d /tmp/proxy-vs-squid.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_port() {  # ip port
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$0: nothing listens on $1:$2" >&2
  return 1
}

# ---- origin -------------------------------------------------------------------------------
mkdir -p "$tmp/origin/www"
head -c 1024 /dev/urandom >"$tmp/origin/www/1k"
head -c 102400 /dev/urandom >"$tmp/origin/www/100k"
chmod -R a+rX "$tmp/origin"
cat >"$tmp/origin/nginx.conf" <<EOF
pid $tmp/origin/nginx.pid;
worker_processes 1;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/origin/body;
  proxy_temp_path $tmp/origin/proxy;
  fastcgi_temp_path $tmp/origin/fastcgi;
  uwsgi_temp_path $tmp/origin/uwsgi;
  scgi_temp_path $tmp/origin/scgi;
  default_type application/octet-stream;
  keepalive_requests 1000000;
  server { listen $ORIGIN; root $tmp/origin/www; }
}
EOF
nginx -p "$tmp/origin" -c "$tmp/origin/nginx.conf" -e stderr -g 'daemon off;' 2>"$tmp/origin/out" &
pids+=($!)
disown
wait_port "${ORIGIN%:*}" "${ORIGIN#*:}"

# ---- seccloud -----------------------------------------------------------------------------
# wrk connects from 127.0.0.1: a bench tenant owns it (a real deployment has one per municipality).
mkdir -p "$tmp/seccloud"
cat >"$tmp/seccloud/seccloud.yaml" <<EOF
node: {name: bench, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: $SECCLOUD_IP:19000}
tenants:
  - {id: bench, name: bench, networks: [127.0.0.0/24]}
proxy:
  listen: [$SECCLOUD_IP:$PORT]
  workers: $WORKERS
  system_resolver: false
EOF
"$BINARY" proxy --config "$tmp/seccloud/seccloud.yaml" 2>"$tmp/seccloud/out" &
seccloud_pid=$!
pids+=($seccloud_pid)
disown
wait_port $SECCLOUD_IP $PORT

# ---- squid --------------------------------------------------------------------------------
mkdir -p "$tmp/squid"
cat >"$tmp/squid/squid.conf" <<EOF
http_port $SQUID_IP:$PORT
workers $WORKERS
cache deny all
cache_mem 0 MB
acl bench src 127.0.0.0/24
http_access allow bench
http_access deny all
access_log stdio:$tmp/squid/access.log
cache_log $tmp/squid/cache.log
cache_store_log none
pid_filename $tmp/squid/squid.pid
coredump_dir $tmp/squid
cache_effective_user proxy
forwarded_for delete
netdb_filename none
pinger_enable off
shutdown_lifetime 1 seconds
max_filedescriptors 16384
EOF
chown -R proxy "$tmp/squid" 2>/dev/null || true
if [ "$WORKERS" -gt 1 ]; then
  squid -f "$tmp/squid/squid.conf" --foreground 2>"$tmp/squid/out" &
else
  squid -N -f "$tmp/squid/squid.conf" 2>"$tmp/squid/out" &
fi
squid_pid=$!
pids+=($squid_pid)
disown
wait_port $SQUID_IP $PORT

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
EOF

# CPU ticks (utime+stime) of a process and all its descendant processes (-T: a thread is counted
# in its process's own figures, never again on its own).
cpu_ticks() {
  local total=0 p
  for p in $(pstree -pT "$1" | grep -o '([0-9]*)' | tr -d '()'); do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $total
}
to_ms() {  # wrk latency "812.00us" / "1.23ms" / "1.01s" -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
hz=$(getconf CLK_TCK)

declare -A R
run() {  # name ip pid file
  local name=$1 ip=$2 pid=$3 file=$4
  TARGET_URL="http://$ORIGIN/$file" TARGET_HOST=$ORIGIN \
    wrk -t1 -c"$CONNECTIONS" -d2s -s "$tmp/proxy.lua" "http://$ip:$PORT" >/dev/null
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(TARGET_URL="http://$ORIGIN/$file" TARGET_HOST=$ORIGIN \
    wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$tmp/proxy.lua" "http://$ip:$PORT")
  after=$(cpu_ticks "$pid")
  echo "$out" >"$tmp/wrk-$name-$file.txt"
  if echo "$out" | grep -q 'Non-2xx'; then
    echo "$0: $name answered errors for /$file:" >&2
    echo "$out" >&2
    exit 1
  fi
  local rps requests p50 p99
  rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  R[$name,$file,rps]=$rps
  R[$name,$file,p50]=$p50
  R[$name,$file,p99]=$p99
  R[$name,$file,cpu]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" \
    'BEGIN { printf "%.4f", t / hz / n * 1000 }')
}

for file in 1k 100k; do
  run seccloud $SECCLOUD_IP $seccloud_pid $file
  run squid $SQUID_IP $squid_pid $file
done

echo
echo "seccloud proxy vs Squid $(squid -v | head -1 | awk '{print $4}'): $WORKERS worker(s) each," \
  "wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, keep-alive, $(nproc) CPUs ($(uptime | sed 's/.*load/load/'))"
printf '%-34s %14s %14s %10s\n' "row" "seccloud" "squid" "ratio"
for file in 1k 100k; do
  for m in rps p50 p99 cpu; do
    case $m in
      rps) label="requests/s ($file)" ;;
      p50) label="latency p50 ms ($file)" ;;
      p99) label="latency p99 ms ($file)" ;;
      cpu) label="CPU-s per 1,000 requests ($file)" ;;
    esac
    a=${R[seccloud,$file,$m]}
    b=${R[squid,$file,$m]}
    printf '%-34s %14s %14s %10s\n' "$label" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
  done
done
echo "(ratio = seccloud/squid: higher is better for requests/s, lower for latency and CPU)"
