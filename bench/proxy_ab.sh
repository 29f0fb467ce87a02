#!/usr/bin/env bash
# R3: two seccloud binaries (a change and its parent) on the same proxy rows, alternated A B A B
# in one run so that a shared machine's load hits both alike. Rows: plain HTTP keep-alive, CONNECT
# spliced keep-alive, TLS-intercepted keep-alive (1 KiB), each at a fixed rate with proxy_load
# (open loop), so both binaries do the same work and CPU-seconds per 1,000 requests compares.
# Prints, per row, each binary's median over the rounds and the ratio B/A.
#
#   bench/proxy_ab.sh --a OLD_BINARY --b NEW_BINARY [--rounds N] [--seconds N] [--rate R]
#                     [--file 1k|100k] [--connections N]
#
# Needs nginx, openssl, pstree, python3 and proxy_load. Addresses 127.79.2.1 (origin, HTTP 8080
# and HTTPS 8443), 127.79.2.2:3128 (the proxy under test). No filter data (the URL filter's cost
# is the same in both binaries unless the change is in it).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib_proxy_bench.sh
source "$here/bench/lib_proxy_bench.sh"
A="" B="" ROUNDS=3 SECONDS_PER_RUN=8 RATE=1000 FILE=1k CONNECTIONS=32
while [ $# -gt 0 ]; do
  case "$1" in
    --a) A=$2; shift 2 ;;
    --b) B=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --file) FILE=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    *) echo "usage: $0 --a OLD --b NEW [--rounds N] [--seconds N] [--rate R] [--file 1k|100k] [--connections N]" >&2; exit 2 ;;
  esac
done
[ -x "$A" ] && [ -x "$B" ] || { echo "$0: --a and --b must be seccloud binaries" >&2; exit 2; }
pb_find_load
SIZE=1024
[ "$FILE" = 100k ] && SIZE=102400

NAME=ab.bench.example
ORIGIN_IP=127.79.2.1
PROXY_IP=127.79.2.2
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
  server { listen $ORIGIN_IP:8080; root $tmp/origin/www; }
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

start_proxy() {  # binary intercept
  mkdir -p "$tmp/proxy"
  cat >"$tmp/proxy/seccloud.yaml" <<EOF
node: {name: ab, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: $PROXY_IP:19000}
tenants:
  - {id: bench, name: bench, networks: [127.0.0.0/24]}
proxy:
  listen: [$PROXY_IP:$PORT]
  workers: 1
  system_resolver: false
  hosts: {$NAME: [$ORIGIN_IP]}
  tls:
    intercept: $2
    ca_dir: ca
    extra_trust: [$tmp/pki/root.pem]
EOF
  [ -f "$tmp/proxy/ca/ca.pem" ] || "$1" ca init --config "$tmp/proxy/seccloud.yaml" >/dev/null
  "$1" proxy --config "$tmp/proxy/seccloud.yaml" 2>>"$tmp/proxy/out" &
  proxy_pid=$!
  pb_track $proxy_pid
  disown
  pb_wait_port $PROXY_IP $PORT
}

declare -A CPU P99
rows=(plain splice intercept)
for round in $(seq "$ROUNDS"); do
  for who in a b; do
    bin=$A
    [ $who = b ] && bin=$B
    for row in "${rows[@]}"; do
      intercept=false
      [ "$row" = intercept ] && intercept=true
      start_proxy "$bin" $intercept
      case $row in
        plain) args=(--mode http --url "http://$ORIGIN_IP:8080/$FILE") ;;
        splice) args=(--mode tls-keepalive --target "$NAME:8443" --path "/$FILE" --cafile "$tmp/pki/root.pem") ;;
        intercept) args=(--mode tls-keepalive --target "$NAME:8443" --path "/$FILE" --cafile "$tmp/proxy/ca/ca.pem") ;;
      esac
      pb_measure "$row-$round" "$who" "$proxy_pid" -- --proxy "$PROXY_IP:$PORT" "${args[@]}" \
        --size "$SIZE" --connections "$CONNECTIONS" --rate "$RATE" --warmup 2 --seconds "$SECONDS_PER_RUN"
      CPU[$row,$who]="${CPU[$row,$who]:-} ${R[$row-$round,$who,cpu]}"
      P99[$row,$who]="${P99[$row,$who]:-} ${R[$row-$round,$who,p99]}"
      pb_stop "$proxy_pid"
    done
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "A = $A"
echo "B = $B"
echo "$ROUNDS rounds A B, ${SECONDS_PER_RUN}s per row at $RATE/s, $CONNECTIONS connections, /$FILE," \
  "1 worker, $(nproc) CPUs ($(uptime | sed 's/.*load/load/'))"
printf '%-34s %10s %10s %7s   %s\n' "row (median of rounds)" "A" "B" "B/A" "A rounds | B rounds"
for row in "${rows[@]}"; do
  a=$(median <<<"${CPU[$row,a]}")
  b=$(median <<<"${CPU[$row,b]}")
  printf '%-34s %10s %10s %7s   %s |%s\n' "$row: CPU-s per 1,000 requests" "$a" "$b" "$(pb_ratio "$b" "$a")" "${CPU[$row,a]}" "${CPU[$row,b]}"
  a=$(median <<<"${P99[$row,a]}")
  b=$(median <<<"${P99[$row,b]}")
  printf '%-34s %10s %10s %7s   %s |%s\n' "$row: p99 ms" "$a" "$b" "$(pb_ratio "$b" "$a")" "${P99[$row,a]}" "${P99[$row,b]}"
done
