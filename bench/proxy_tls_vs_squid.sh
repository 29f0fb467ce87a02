#!/usr/bin/env bash
# R3/R9: seccloud's proxy against Squid ssl-bump (squid-openssl) on HTTPS, side by side in one run.
#
# Starts an nginx HTTPS origin (1 KiB file, certificate from a private root both proxies trust),
# then in two phases:
#   splice:    both proxies without interception; CONNECT tunnels are relayed as bytes.
#   intercept: seccloud with proxy.tls.intercept (CA made by `seccloud ca init`), Squid with
#              `ssl_bump peek step1` + `ssl_bump bump all` signing with the same CA.
# and drives each proxy in turn with bench/tls_client.py (CONNECT, TLS inside the tunnel,
# GET /1k): keep-alive inside the tunnel (requests/s, warm leaf-certificate cache: a warm-up run
# first), and a new CONNECT + TLS handshake per request (connections/s). Prints requests/s,
# p50/p99 and CPU-seconds per 1,000 requests of each proxy (all its processes, incl. Squid's
# kids and helpers), with seccloud/squid ratios.
#
#   bench/proxy_tls_vs_squid.sh [--seconds N] [--connections N] [--workers N]
#                               [--client-procs N] [--binary PATH] [--squid-root DIR]
#
# --squid-root DIR runs DIR/usr/sbin/squid and DIR/usr/lib/squid/security_file_certgen instead of
# the installed ones: for a machine where the `squid` package must stay installed (it conflicts
# with squid-openssl), unpack squid-openssl there without installing it:
#   apt-get download squid-openssl && dpkg -x squid-openssl_*.deb DIR
# (squid-common, which both flavours depend on, must be installed.)
#
# Needs nginx, squid-openssl (Squid built with OpenSSL: security_file_certgen), python3, openssl
# and a built seccloud. Addresses: 127.79.1.1:8443 origin, 127.79.1.2:3128 seccloud,
# 127.79.1.3:3128 squid. Run as root (Squid drops to user proxy).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_RUN=10
CONNECTIONS=32
WORKERS=1
CLIENT_PROCS=2
BINARY="$here/build/release/apps/seccloud/seccloud"
SQUID_ROOT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --client-procs) CLIENT_PROCS=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --squid-root) SQUID_ROOT=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--connections N] [--workers N] [--client-procs N] [--binary PATH] [--squid-root DIR]" >&2; exit 2 ;;
  esac
done
CERTGEN=$SQUID_ROOT/usr/lib/squid/security_file_certgen
SQUID=$SQUID_ROOT/usr/sbin/squid
for tool in nginx "$SQUID" python3 openssl pstree; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done
if [ ! -x "$CERTGEN" ] || ! "$SQUID" -v | grep -q -- --with-openssl; then
  echo "$0: $SQUID is not built with OpenSSL or $CERTGEN is missing: install squid-openssl" \
    "(not squid), or unpack it and pass --squid-root" >&2
  exit 1
fi
[ -x "$BINARY" ] || { echo "$0: $BINARY is missing (cmake --build --preset release --target seccloud)" >&2; exit 1; }

NAME=tls.bench.example
ORIGIN_IP=127.79.1.1
ORIGIN_PORT=8443
SECCLOUD_IP=127.79.1.2
SQUID_IP=127.79.1.3
PORT=3128
tmp=$(mktemp -d /tmp/proxy-tls-vs-squid.XXXXXX)
chmod 755 "$tmp"
pids=()
stop() {  # pid...: TERM, then KILL what is left
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 30); do
    local alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for p in "$@"; do kill -9 "$p" 2>/dev/null || true; done
}
cleanup() {
  stop "${pids[@]}"
  [ -n "${KEEP_TMP:-}" ] && { echo "kept $tmp" >&2; return; }
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

# ---- PKI: the origin's root and certificate -------------------------------------------------
mkdir -p "$tmp/pki"
(
  cd "$tmp/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=bench origin root" -keyout root.key -out root.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$NAME" \
    -keyout origin.key -out origin.csr 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$NAME" >origin.ext
  openssl x509 -req -in origin.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
    -sha256 -extfile origin.ext -out origin.pem 2>/dev/null
)
chmod -R a+rX "$tmp/pki"

# ---- origin -------------------------------------------------------------------------------
mkdir -p "$tmp/origin/www"
head -c 1024 /dev/urandom >"$tmp/origin/www/1k"
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
  ssl_session_cache shared:bench:10m;
  server {
    listen $ORIGIN_IP:$ORIGIN_PORT ssl;
    server_name $NAME;
    ssl_certificate $tmp/pki/origin.pem;
    ssl_certificate_key $tmp/pki/origin.key;
    root $tmp/origin/www;
  }
}
EOF
nginx -p "$tmp/origin" -c "$tmp/origin/nginx.conf" -e stderr -g 'daemon off;' 2>"$tmp/origin/out" &
pids+=($!)
disown
wait_port $ORIGIN_IP $ORIGIN_PORT

# ---- seccloud -----------------------------------------------------------------------------
mkdir -p "$tmp/seccloud"
start_seccloud() {  # intercept: true|false
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
  hosts: {$NAME: [$ORIGIN_IP]}
  tls:
    intercept: $1
    ca_dir: ca
    extra_trust: [$tmp/pki/root.pem]
EOF
  if [ ! -f "$tmp/seccloud/ca/ca.pem" ]; then
    "$BINARY" ca init --config "$tmp/seccloud/seccloud.yaml" >/dev/null
  fi
  "$BINARY" proxy --config "$tmp/seccloud/seccloud.yaml" 2>>"$tmp/seccloud/out" &
  seccloud_pid=$!
  pids+=($seccloud_pid)
  disown
  wait_port $SECCLOUD_IP $PORT
}

# ---- squid --------------------------------------------------------------------------------
mkdir -p "$tmp/squid"
start_squid() {  # bump: true|false
  local port_line="http_port $SQUID_IP:$PORT" bump=""
  if [ "$1" = true ]; then
    # Squid signs with the same CA as seccloud (ECDSA P-256; Squid reuses the CA key for leaves).
    cp "$tmp/seccloud/ca/ca.pem" "$tmp/seccloud/ca/ca.key" "$tmp/squid/"
    rm -rf "$tmp/squid/ssl_db"
    "$CERTGEN" -c -s "$tmp/squid/ssl_db" -M 4MB >/dev/null
    port_line="http_port $SQUID_IP:$PORT ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=16MB tls-cert=$tmp/squid/ca.pem tls-key=$tmp/squid/ca.key"
    bump="sslcrtd_program $CERTGEN -s $tmp/squid/ssl_db -M 4MB
sslcrtd_children 5 startup=1 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=$tmp/pki/root.pem"
  fi
  echo "$ORIGIN_IP $NAME" >"$tmp/squid/hosts"
  cat >"$tmp/squid/squid.conf" <<EOF
$port_line
$bump
workers $WORKERS
hosts_file $tmp/squid/hosts
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
    "$SQUID" -f "$tmp/squid/squid.conf" --foreground 2>>"$tmp/squid/out" &
  else
    "$SQUID" -N -f "$tmp/squid/squid.conf" 2>>"$tmp/squid/out" &
  fi
  squid_pid=$!
  pids+=($squid_pid)
  disown
  wait_port $SQUID_IP $PORT
}

# CPU ticks (utime+stime) of a process and all its descendants (threads counted in their process).
cpu_ticks() {
  local total=0 p
  for p in $(pstree -pT "$1" | grep -o '([0-9]*)' | tr -d '()'); do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $total
}
hz=$(getconf CLK_TCK)

client() {  # ip cafile mode seconds
  python3 "$here/bench/tls_client.py" --proxy "$1:$PORT" --target "$NAME:$ORIGIN_PORT" \
    --path /1k --size 1024 --cafile "$2" --mode "$3" --seconds "$4" \
    --connections "$CONNECTIONS" --procs "$CLIENT_PROCS"
}

declare -A R
run() {  # row name ip pid cafile mode
  local row=$1 name=$2 ip=$3 pid=$4 cafile=$5 mode=$6
  client "$ip" "$cafile" "$mode" 2 >/dev/null  # warm-up: leaf certificate minted and cached
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(client "$ip" "$cafile" "$mode" "$SECONDS_PER_RUN")
  after=$(cpu_ticks "$pid")
  echo "$out" >"$tmp/client-$row-$name.json"
  local j='import json,sys; d=json.load(sys.stdin); print(d[sys.argv[1]])'
  if [ "$(echo "$out" | python3 -c "$j" errors)" != 0 ]; then
    echo "$0: $name failed requests in $row: $out" >&2
    exit 1
  fi
  local requests
  requests=$(echo "$out" | python3 -c "$j" requests)
  R[$row,$name,rps]=$(echo "$out" | python3 -c "$j" rps)
  R[$row,$name,p50]=$(echo "$out" | python3 -c "$j" p50_ms)
  R[$row,$name,p99]=$(echo "$out" | python3 -c "$j" p99_ms)
  R[$row,$name,client]=$(awk -v c="$(echo "$out" | python3 -c "$j" client_cpu_s)" -v n="$requests" \
    'BEGIN { printf "%.4f", c / n * 1000 }')
  R[$row,$name,cpu]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" \
    'BEGIN { printf "%.4f", t / hz / n * 1000 }')
}

# Sanity: the certificate each proxy shows is the one we expect, and the bytes are intact.
check() {  # ip cafile what
  if ! curl -sf --proxy "http://$1:$PORT" --cacert "$2" \
      --resolve "$NAME:$ORIGIN_PORT:$ORIGIN_IP" "https://$NAME:$ORIGIN_PORT/1k" |
      cmp -s - "$tmp/origin/www/1k"; then
    echo "$0: $3 on $1:$PORT does not return /1k intact (verified with $2)" >&2
    curl -sv --proxy "http://$1:$PORT" --cacert "$2" "https://$NAME:$ORIGIN_PORT/1k" -o /dev/null >&2 || true
    exit 1
  fi
}

rows=()
# ---- phase 1: CONNECT spliced -------------------------------------------------------------
start_seccloud false
start_squid false
check $SECCLOUD_IP "$tmp/pki/root.pem" seccloud
check $SQUID_IP "$tmp/pki/root.pem" squid
for mode in keepalive newconn; do
  rows+=("splice-$mode")
  run "splice-$mode" seccloud $SECCLOUD_IP "$seccloud_pid" "$tmp/pki/root.pem" $mode
  run "splice-$mode" squid $SQUID_IP "$squid_pid" "$tmp/pki/root.pem" $mode
done
stop "$seccloud_pid" "$squid_pid"

# ---- phase 2: intercepted -----------------------------------------------------------------
start_seccloud true
start_squid true
check $SECCLOUD_IP "$tmp/seccloud/ca/ca.pem" seccloud
check $SQUID_IP "$tmp/seccloud/ca/ca.pem" squid
for mode in keepalive newconn; do
  rows+=("intercept-$mode")
  run "intercept-$mode" seccloud $SECCLOUD_IP "$seccloud_pid" "$tmp/seccloud/ca/ca.pem" $mode
  run "intercept-$mode" squid $SQUID_IP "$squid_pid" "$tmp/seccloud/ca/ca.pem" $mode
done

echo
echo "seccloud proxy vs Squid $("$SQUID" -v | head -1 | awk '{print $4}') (ssl-bump): $WORKERS worker(s) each," \
  "tls_client.py $CONNECTIONS connections in $CLIENT_PROCS processes, ${SECONDS_PER_RUN}s per row," \
  "HTTPS GET of 1 KiB, $(nproc) CPUs ($(uptime | sed 's/.*load/load/'))"
printf '%-48s %12s %12s %8s\n' "row" "seccloud" "squid" "ratio"
for row in "${rows[@]}"; do
  case $row in
    splice-keepalive) what="CONNECT spliced, keep-alive" ; unit="requests/s" ;;
    splice-newconn) what="CONNECT spliced, new conn per request" ; unit="connections/s" ;;
    intercept-keepalive) what="intercepted, keep-alive, warm cache" ; unit="requests/s" ;;
    intercept-newconn) what="intercepted, new conn per request" ; unit="connections/s" ;;
  esac
  for m in rps p50 p99 cpu client; do
    case $m in
      rps) label="$what: $unit" ;;
      p50) label="  latency p50 ms" ;;
      p99) label="  latency p99 ms" ;;
      cpu) label="  CPU-s per 1,000 requests" ;;
      client) label="  (client's CPU-s per 1,000 requests)" ;;
    esac
    a=${R[$row,seccloud,$m]}
    b=${R[$row,squid,$m]}
    printf '%-48s %12s %12s %8s\n' "$label" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
  done
done
echo "squid: $SQUID"
echo "(ratio = seccloud/squid: higher is better for requests/s, lower for latency and CPU;"
echo " newconn latency is CONNECT + TLS handshake + request + response)"
