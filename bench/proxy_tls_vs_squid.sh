#!/usr/bin/env bash
# R3/R9: seccloud's proxy against Squid ssl-bump (squid-openssl) on HTTPS, side by side in one run.
#
# Starts an nginx HTTPS origin (1 KiB and 100 KiB files, certificate from a private root both
# proxies trust), then in two phases:
#   splice:    both proxies without interception; CONNECT tunnels are relayed as bytes.
#   intercept: seccloud with proxy.tls.intercept (CA made by `seccloud ca init`), Squid with
#              `ssl_bump peek step1` + `ssl_bump bump all` signing with the same CA.
# Both proxies load the same filter data (--filter full, the default: every UT1 category blocked
# and URLhaus, from ../shared/data; --filter domains: their domain lists only; see
# pb_filter_data in lib_proxy_bench.sh) and log every
# request. Each proxy in turn is driven by bench/proxy_load (C++; CONNECT, TLS inside the tunnel,
# GET): keep-alive inside the tunnel (requests/s; warm leaf-certificate cache), a new CONNECT +
# TLS handshake per request (connections/s), both closed loop, then the same at a fixed rate
# (open loop: latency from the intended send time). Prints requests/s, p50/p99/p99.9 and
# CPU-seconds per 1,000 requests of each proxy (all its processes, incl. Squid's kids and
# helpers), with seccloud/squid ratios.
#
#   bench/proxy_tls_vs_squid.sh [--seconds N] [--connections N] [--workers N] [--rate R]
#                               [--newconn-rate R] [--filter full|domains|none] [--binary PATH]
#                               [--squid-root DIR] [--data DIR] [--phases "splice intercept"]
#                               [--rows "ka-1k ka-100k newconn ka-rate newconn-rate"]
#                               (and, only when named, ka-100k-rate: 100 KiB at --rate)
#
# --phases and --rows run a subset (default: every phase and row), e.g. `--phases splice --rows
# ka-100k` for one row of a change alternated against its parent with --binary.
#
# --squid-root DIR runs DIR/usr/sbin/squid and DIR/usr/lib/squid/security_file_certgen instead of
# the installed ones: for a machine where the `squid` package must stay installed (it conflicts
# with squid-openssl), unpack squid-openssl there without installing it:
#   apt-get download squid-openssl && dpkg -x squid-openssl_*.deb DIR
# (squid-common, which both flavours depend on, must be installed.)
#
# Needs nginx, squid-openssl (Squid built with OpenSSL: security_file_certgen), python3, openssl,
# a built seccloud and proxy_load. Addresses: 127.79.1.1:8443 origin, 127.79.1.2:3128 seccloud,
# 127.79.1.3:3128 squid. Run as root (Squid drops to user proxy).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib_proxy_bench.sh
source "$here/bench/lib_proxy_bench.sh"
SECONDS_PER_RUN=10
CONNECTIONS=32
WORKERS=1
RATE=500
NEWCONN_RATE=20
FILTER=full
DATA="$here/../shared/data"
BINARY="$here/build/release/apps/seccloud/seccloud"
SQUID_ROOT=""
PHASES="splice intercept"
ROWS="ka-1k ka-100k newconn ka-rate newconn-rate"
ORDER=seccloud-first
usage="usage: $0 [--seconds N] [--connections N] [--workers N] [--rate R] [--newconn-rate R] [--filter full|domains|none] [--binary PATH] [--squid-root DIR] [--data DIR] [--phases \"splice intercept\"] [--rows \"ka-1k ka-100k newconn ka-rate newconn-rate\"] [--order seccloud-first|squid-first]"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --newconn-rate) NEWCONN_RATE=$2; shift 2 ;;
    --filter) FILTER=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --squid-root) SQUID_ROOT=$(cd "$2" && pwd); shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --phases) PHASES=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --order) ORDER=$2; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case $ORDER in seccloud-first|squid-first) ;; *) echo "$usage" >&2; exit 2 ;; esac
for p in $PHASES; do case $p in splice | intercept) ;; *) echo "$usage" >&2; exit 2 ;; esac; done
for r in $ROWS; do
  case $r in ka-1k | ka-100k | newconn | ka-rate | newconn-rate | ka-100k-rate) ;; *) echo "$usage" >&2; exit 2 ;; esac
done
wanted() {  # word list
  case " $2 " in *" $1 "*) return 0 ;; esac
  return 1
}
case $FILTER in full|domains|none) ;; *) echo "$usage" >&2; exit 2 ;; esac
CERTGEN=$SQUID_ROOT/usr/lib/squid/security_file_certgen
SQUID=$SQUID_ROOT/usr/sbin/squid
for tool in nginx "$SQUID" python3 openssl pstree curl; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done
if [ ! -x "$CERTGEN" ] || ! grep -q -- --with-openssl <<<"$("$SQUID" -v)"; then
  echo "$0: $SQUID is not built with OpenSSL or $CERTGEN is missing: install squid-openssl" \
    "(not squid), or unpack it and pass --squid-root" >&2
  exit 1
fi
[ -x "$BINARY" ] || { echo "$0: $BINARY is missing (cmake --build --preset release --target seccloud)" >&2; exit 1; }
pb_find_load

NAME=tls.bench.example
ORIGIN_IP=127.79.1.1
ORIGIN_PORT=8443
SECCLOUD_IP=127.79.1.2
SQUID_IP=127.79.1.3
PORT=3128
tmp=$(mktemp -d /tmp/proxy-tls-vs-squid.XXXXXX)
chmod 755 "$tmp"
pb_init

filter_line="filter data: none"
if [ "$FILTER" != none ]; then
  filter_line=$(pb_filter_data "$DATA" "$BINARY" "$FILTER")
  chmod -R a+rX "$tmp/filter"
fi

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
head -c 102400 /dev/urandom >"$tmp/origin/www/100k"
chmod -R a+rX "$tmp/origin"
cat >"$tmp/origin/nginx.conf" <<EOF
$(pb_nginx_head "$tmp/origin")
  ssl_session_cache shared:bench:10m;
  server {
    listen $ORIGIN_IP:$ORIGIN_PORT ssl;
    server_name $NAME;
    ssl_certificate $tmp/pki/origin.pem;
    ssl_certificate_key $tmp/pki/origin.key;
    # The same cipher for both proxies' origin legs (each client offers its own order: seccloud's
    # AES-128-GCM first, Squid's AES-256-GCM first).
    ssl_prefer_server_ciphers on;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384;
    root $tmp/origin/www;
  }
}
EOF
nginx -p "$tmp/origin" -c "$tmp/origin/nginx.conf" -e stderr -g 'daemon off;' 2>"$tmp/origin/out" &
pb_origin_pid=$!
pb_track $!
disown
pb_wait_port $ORIGIN_IP $ORIGIN_PORT

# ---- seccloud -----------------------------------------------------------------------------
mkdir -p "$tmp/seccloud"
start_seccloud() {  # intercept: true|false
  pb_start_seccloud "$BINARY" "  hosts: {$NAME: [$ORIGIN_IP]}
  tls:
    intercept: $1
    ca_dir: ca
    extra_trust: [$tmp/pki/root.pem]"
}

# ---- squid --------------------------------------------------------------------------------
start_squid() {  # bump: true|false
  local port_line="http_port $SQUID_IP:$PORT" bump=""
  mkdir -p "$tmp/squid"
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
  pb_start_squid "$SQUID" "$SQUID_IP:$PORT" "$port_line" "$bump
hosts_file $tmp/squid/hosts"
}

# Sanity: the certificate each proxy shows is the one we expect, and the bytes are intact.
check() {  # ip cafile what
  local f
  for f in 1k 100k; do
    if ! curl -sf --proxy "http://$1:$PORT" --cacert "$2" \
        --resolve "$NAME:$ORIGIN_PORT:$ORIGIN_IP" "https://$NAME:$ORIGIN_PORT/$f" |
        cmp -s - "$tmp/origin/www/$f"; then
      echo "$0: $3 on $1:$PORT does not return /$f intact (verified with $2)" >&2
      curl -sv --proxy "http://$1:$PORT" --cacert "$2" "https://$NAME:$ORIGIN_PORT/$f" -o /dev/null >&2 || true
      exit 1
    fi
  done
}

# row: mode file rate connections (rate 0 = closed loop)
declare -A ROW_MODE ROW_FILE ROW_RATE ROW_CONN
define_row() { ROW_MODE[$1]=$2; ROW_FILE[$1]=$3; ROW_RATE[$1]=$4; ROW_CONN[$1]=$5; }
phase_rows() {  # prefix
  define_row "$1-ka-1k" tls-keepalive 1k 0 "$CONNECTIONS"
  define_row "$1-ka-100k" tls-keepalive 100k 0 "$CONNECTIONS"
  define_row "$1-newconn" tls-newconn 1k 0 "$CONNECTIONS"
  define_row "$1-ka-rate" tls-keepalive 1k "$RATE" "$CONNECTIONS"
  define_row "$1-newconn-rate" tls-newconn 1k "$NEWCONN_RATE" "$CONNECTIONS"
  define_row "$1-ka-100k-rate" tls-keepalive 100k "$RATE" "$CONNECTIONS"
  phase=()
  local r
  for r in ka-1k ka-100k newconn ka-rate newconn-rate ka-100k-rate; do
    if wanted $r "$ROWS"; then phase+=("$1-$r"); fi
  done
}

run_row() {  # row name ip pid cafile
  local row=$1 size=1024
  [ "${ROW_FILE[$row]}" = 100k ] && size=102400
  pb_measure "$row" "$2" "$4" -- --proxy "$3:$PORT" --mode "${ROW_MODE[$row]}" \
    --target "$NAME:$ORIGIN_PORT" --path "/${ROW_FILE[$row]}" --size $size --cafile "$5" \
    --connections "${ROW_CONN[$row]}" --rate "${ROW_RATE[$row]}" --warmup 2 \
    --seconds "$SECONDS_PER_RUN"
}

# Both proxies on one row, in the order --order asks: the one measured second meets a VM that
# has run a load for longer (page cache, CPU frequency, a neighbour's job), so a small gap in a
# row (a p99 at a fixed rate) is told from the order by running the script both ways.
run_pair() {  # row cafile
  if [ "$ORDER" = squid-first ]; then
    run_row "$1" squid $SQUID_IP "$squid_pid" "$2"
    run_row "$1" seccloud $SECCLOUD_IP "$seccloud_pid" "$2"
  else
    run_row "$1" seccloud $SECCLOUD_IP "$seccloud_pid" "$2"
    run_row "$1" squid $SQUID_IP "$squid_pid" "$2"
  fi
}

rows=()
# ---- phase 1: CONNECT spliced -------------------------------------------------------------
if wanted splice "$PHASES"; then
start_seccloud false
start_squid false
check $SECCLOUD_IP "$tmp/pki/root.pem" seccloud
check $SQUID_IP "$tmp/pki/root.pem" squid
phase_rows splice
for row in "${phase[@]}"; do
  rows+=("$row")
  run_pair "$row" "$tmp/pki/root.pem"
done
pb_stop "$seccloud_pid" "$squid_pid"
fi

# ---- phase 2: intercepted -----------------------------------------------------------------
if wanted intercept "$PHASES"; then
start_seccloud true
start_squid true
check $SECCLOUD_IP "$tmp/seccloud/ca/ca.pem" seccloud
check $SQUID_IP "$tmp/seccloud/ca/ca.pem" squid
phase_rows intercept
for row in "${phase[@]}"; do
  rows+=("$row")
  run_pair "$row" "$tmp/seccloud/ca/ca.pem"
done
fi

label() {  # row metric
  local what unit
  case $1 in
    *-ka-1k) what="keep-alive, 1 KiB, closed loop"; unit="requests/s" ;;
    *-ka-100k) what="keep-alive, 100 KiB, closed loop"; unit="requests/s" ;;
    *-newconn) what="new conn per request, closed loop"; unit="connections/s" ;;
    *-ka-rate) what="keep-alive, 1 KiB, at $RATE/s"; unit="requests/s" ;;
    *-ka-100k-rate) what="keep-alive, 100 KiB, at $RATE/s"; unit="requests/s" ;;
    *-newconn-rate) what="new conn per request, at $NEWCONN_RATE/s"; unit="connections/s" ;;
  esac
  case $1 in splice-*) what="spliced, $what" ;; intercept-*) what="intercepted, $what" ;; esac
  pb_metric_label "$2" "$what: $unit"
}

echo
echo "seccloud proxy vs Squid $("$SQUID" -v | head -1 | awk '{print $4}') (ssl-bump): $WORKERS worker(s) each," \
  "proxy_load $CONNECTIONS connections, ${SECONDS_PER_RUN}s per row after 2s warm-up," \
  "HTTPS GET, $(nproc) CPUs, order $ORDER ($(uptime | sed 's/.*load/load/'))"
echo "$filter_line"
pb_print_rows label "${rows[@]}"
echo "squid: $SQUID; seccloud: $BINARY"
echo "(ratio = seccloud/squid: higher is better for requests/s, lower for latency and CPU;"
echo " newconn latency is CONNECT + TLS handshake + request + response; at a fixed rate latency"
echo " counts from the intended send time, and requests/s is the offered rate when both keep up)"
