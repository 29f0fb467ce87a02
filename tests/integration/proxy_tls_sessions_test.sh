#!/usr/bin/env bash
# R9 (issue 3): the proxy's /metrics count TLS session resumption with origins. Three intercepted
# HTTPS requests through `seccloud proxy`, each on a new CONNECT (so a new origin connection and
# handshake) to a real nginx: every handshake is counted once as a hit (resumed) or a miss (full),
# the first is a miss, its session is stored and the cache holds the one origin.
#
#   proxy_tls_sessions_test.sh SECCLOUD_BINARY
set -euo pipefail

bin=$1
name=sessions.test.example
net=127.84.$(($$ % 250 + 1))
origin_ip=$net.1
proxy_ip=$net.2
tmp=$(mktemp -d /tmp/seccloud-tls-sessions.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$tmp/proxy.out" ] && tail -20 "$tmp/proxy.out" >&2
  exit 1
}
wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "nothing listens on $1:$2"
}

mkdir -p "$tmp/pki" "$tmp/www"
(
  cd "$tmp/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=sessions root" -keyout root.key -out root.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
    -keyout origin.key -out origin.csr 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$name" >origin.ext
  openssl x509 -req -in origin.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
    -sha256 -extfile origin.ext -out origin.pem 2>/dev/null
)
echo ok >"$tmp/www/ok"
chmod -R a+rX "$tmp"
cat >"$tmp/nginx.conf" <<EOF
pid $tmp/nginx.pid;
error_log stderr;
events {}
http {
  access_log off;
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy_temp;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  server {
    listen $origin_ip:8443 ssl;
    server_name $name;
    ssl_certificate $tmp/pki/origin.pem;
    ssl_certificate_key $tmp/pki/origin.key;
    root $tmp/www;
  }
}
EOF
nginx -p "$tmp" -c "$tmp/nginx.conf" -e stderr -g 'daemon off;' 2>"$tmp/nginx.out" &
pids+=($!)
wait_port "$origin_ip" 8443

cat >"$tmp/seccloud.yaml" <<EOF
node: {name: tls-sessions, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: $proxy_ip:19000}
tenants:
  - {id: test, name: test, networks: [127.0.0.0/8]}
proxy:
  listen: [$proxy_ip:3128]
  workers: 1
  system_resolver: false
  hosts: {$name: [$origin_ip]}
  tls:
    intercept: true
    ca_dir: $tmp/ca
    extra_trust: [$tmp/pki/root.pem]
EOF
"$bin" ca init --config "$tmp/seccloud.yaml" >/dev/null
(cd "$tmp" && exec "$bin" proxy --config "$tmp/seccloud.yaml") >"$tmp/proxy.out" 2>&1 &
pids+=($!)
wait_port "$proxy_ip" 3128

for i in 1 2 3; do
  body=$(curl -sS --max-time 20 --proxy "http://$proxy_ip:3128" --cacert "$tmp/ca/ca.pem" \
    "https://$name:8443/ok") || fail "request $i through the proxy failed"
  [ "$body" = ok ] || fail "request $i: unexpected body '$body'"
done

metrics=$(curl -sS --max-time 10 "http://$proxy_ip:19001/metrics") || fail "no /metrics"
[ -n "${SHOW_METRICS:-}" ] && echo "$metrics"
metric() {  # the value of one sample line, "" when absent
  awk -v n="$1" '$1 == n { print $2 }' <<<"$metrics"
}
full=$(metric 'seccloud_proxy_tls_origin_handshakes_total{session="full"}')
resumed=$(metric 'seccloud_proxy_tls_origin_handshakes_total{session="resumed"}')
stored=$(metric seccloud_proxy_tls_sessions_stored)
hosts=$(metric seccloud_proxy_tls_session_cache_hosts)
echo "full=$full resumed=$resumed stored=$stored hosts=$hosts"
[ -n "$full" ] && [ -n "$resumed" ] && [ -n "$stored" ] && [ -n "$hosts" ] ||
  fail "a session metric is missing from /metrics"
awk -v f="$full" -v r="$resumed" 'BEGIN { exit !(f + r == 3) }' ||
  fail "3 origin handshakes, but full=$full resumed=$resumed"
# Each request's origin connection ends (without a close_notify) before the next begins: the
# first handshake is full, the next two resume its session (TLS 1.2 against Debian 12's nginx).
awk -v f="$full" -v r="$resumed" 'BEGIN { exit !(f == 1 && r == 2) }' ||
  fail "expected 1 full and 2 resumed origin handshakes, got full=$full resumed=$resumed"
awk -v s="$stored" 'BEGIN { exit !(s >= 1) }' || fail "no session was stored"
awk -v h="$hosts" 'BEGIN { exit !(h == 1) }' || fail "sessions held for $hosts origins, not 1"
echo "1 passed, 0 failed"
