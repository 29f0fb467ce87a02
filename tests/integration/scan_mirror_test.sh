#!/usr/bin/env bash
# R7/R8: scand keeps its ClamAV signatures current from an HTTP mirror in the freshclam layout
# (cvdupdate's directory: containers + dns.txt), served by a real nginx. Containers are built with
# sigtool (--unsigned: a signed .cvd needs ClamAV's private key), so the mirror is configured as a
# private one (allow_unsigned).
#   1. first update: downloads daily.cud, verifies, loads; the new signature detects its sample
#   2. version unchanged: dns.txt is read, the container is not downloaded again (access log)
#   3. no dns.txt: the container's 512-byte header is read with a Range request (206), no download
#   4. tampered container (one byte flipped): refused (MD5), old engine kept, failure event
#   5. container built before the loaded one: refused as a rollback
#   6. mirror down: failure event, old engine still scans, the staleness alarm still fires
#   7. mirror back with a new version while a steady scan load runs: the swap refuses nothing
#   8. a .cvd whose digital signature is not ClamAV's: refused (our verifier, then libclamav's)
# and, along the way, the .cdiff path: a version with no .cdiff on the mirror (404) and one whose
# .cdiff is properly signed but not by ClamAV are each reported (mirror-incremental-failed) and
# fetched as whole containers instead.
# Usage: scan_mirror_test.sh SECCLOUD_BINARY SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
command -v sigtool >/dev/null || { echo "sigtool (package clamav) not installed" >&2; exit 1; }
command -v nginx >/dev/null || PATH=$PATH:/usr/sbin
work=$(mktemp -d /tmp/scan-mirror-it.XXXXXX)
chmod 755 "$work"
scand_pid=""
nginx_pid=""
stop_nginx() { [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""; }
stop_scand() { [ -n "$scand_pid" ] && kill "$scand_pid" 2>/dev/null && wait "$scand_pid" 2>/dev/null || true; scand_pid=""; }
cleanup() { stop_scand; stop_nginx; rm -rf "$work"; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/scand.log" ] && sed 's/^/  scand: /' "$work/scand.log" | tail -30 >&2
  [ -f "$work/nginx/access.log" ] && sed 's/^/  nginx: /' "$work/nginx/access.log" | tail -20 >&2
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hexof() { printf '%s' "$1" | xxd -p | tr -d '\n'; }

# build_cud VERSION NAME OUT SIGNATURE_LINES...: a container built by sigtool from .ndb lines.
build_cud() {
  local version=$1 name=$2 out=$3
  shift 3
  local d
  d=$(mktemp -d "$work/build.XXXXXX")
  printf '%s\n' "$@" >"$d/$name.ndb"
  echo "seccloud integration test signatures" >"$d/COPYING"
  (cd "$d" && echo seccloud-test | sigtool --quiet --unsigned --no-cdiff --build="$name.cud" \
    --cvd-version="$version" --datadir="$d/none" >/dev/null 2>&1) || fail "sigtool --build failed"
  [ -s "$d/$name.cud" ] || fail "sigtool built no $name.cud"
  mv "$d/$name.cud" "$out"
  rm -rf "$d"
}
# set_header FILE FIELD VALUE: rewrites one field of the 512-byte header (the MD5 covers only the
# archive after it), e.g. the digital signature (6).
set_header() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, field, value = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
fields = data[:512].decode().rstrip(" ").split(":")
fields[field] = value
head = ":".join(fields).encode()
assert len(head) <= 512
open(path, "wb").write(head.ljust(512, b" ") + data[512:])
PY
}
# set_build_time FILE UNIX_TIME: rebuilds a .cud as if sigtool had run at UNIX_TIME: the build
# time is in the header and in the .info inside the archive (libclamav compares the two), so the
# archive is repacked and the header's MD5 recomputed.
set_build_time() {
  python3 - "$1" "$2" <<'PY'
import gzip, hashlib, io, sys, tarfile
path, stime = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
head = data[:512].decode().rstrip(" ").split(":")
src = tarfile.open(fileobj=io.BytesIO(gzip.decompress(data[512:])))
out = io.BytesIO()
dst = tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT)
for m in src.getmembers():
    content = src.extractfile(m).read()
    if m.name.endswith(".info"):
        lines = content.decode().split("\n")
        fields = lines[0].split(":")
        fields[8] = stime
        lines[0] = ":".join(fields)
        content = "\n".join(lines).encode()
    m.size = len(content)
    dst.addfile(m, io.BytesIO(content))
dst.close()
body = gzip.compress(out.getvalue())
head[8] = stime
head[5] = hashlib.md5(body).hexdigest()
open(path, "wb").write(":".join(head).encode().ljust(512, b" ") + body)
PY
}
# sign_cdiff VERSION SCRIPT_TEXT OUT: a .cdiff in ClamAV's format (header, gzip, ':', RSA-PSS
# SHA-256 signature in ClamAV's base 64) signed with a key made here: well-formed, not ClamAV's.
sign_cdiff() {
  local version=$1 script=$2 out=$3
  [ -f "$work/test-key.pem" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/test-key.pem" 2>/dev/null
  printf '%s' "$script" >"$work/script.txt"
  { printf 'ClamAV-Diff:%s:%s:' "$version" "$(stat -c %s "$work/script.txt")"; gzip -9 -n -c "$work/script.txt"; } >"$work/signed.part"
  openssl dgst -sha256 -binary "$work/signed.part" >"$work/signed.sha256"
  openssl pkeyutl -sign -inkey "$work/test-key.pem" -in "$work/signed.sha256" -pkeyopt digest:sha256 \
    -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 -out "$work/signed.sig"
  python3 - "$work/signed.part" "$work/signed.sig" "$out" <<'PY'
import sys
part, sig, out = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), sys.argv[3]
alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
n, digits = int.from_bytes(sig, "big"), ""
while n:
    digits += alphabet[n & 63]
    n >>= 6
open(out, "wb").write(part + b":" + digits.encode())
PY
}
dns_txt() { echo "1.4.6:0:$1:$(date +%s):1:90:0:0" >"$work/www/clamav/dns.txt"; }
events() { find "$work/spool" -type f -exec cat {} + 2>/dev/null || true; }
count_events() { local n; n=$(events | grep -c "$1" || true); echo "${n:-0}"; }
wait_event_count() {  # PATTERN MIN_COUNT WHAT
  for _ in $(seq 1 100); do
    [ "$(count_events "$1")" -ge "$2" ] && return 0
    sleep 0.2
  done
  fail "timed out waiting for $3"
}
scan() { "$bin" scan --config "$work/seccloud.yaml" "$@" 2>/dev/null || true; }
db_version() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"VERSION\n"); print(s.recv(4096).decode().strip())' "$work/scand.sock"; }
full_gets() { grep -c "^/clamav/$1 200 " "$work/nginx/access.log" || true; }

mkdir -p "$work/state" "$work/spool" "$work/sigs" "$work/www/clamav" "$work/nginx"
cp "$src"/etc/signatures/clamav/* "$work/sigs/"
printf 'x SECCLOUD-MIRROR-PROBE-ONE y' >"$work/probe1.bin"
printf 'x SECCLOUD-MIRROR-PROBE-TWO y' >"$work/probe2.bin"
sig1="SecCloud-Mirror-Probe-One:0:*:$(hexof SECCLOUD-MIRROR-PROBE-ONE)"
sig2="SecCloud-Mirror-Probe-Two:0:*:$(hexof SECCLOUD-MIRROR-PROBE-TWO)"

# Version 5 was built two days ago (max_age is 24 h): it installs, and then it is stale.
build_cud 5 daily "$work/www/clamav/daily.cud" "$sig1"
set_build_time "$work/www/clamav/daily.cud" $(($(date +%s) - 2 * 86400))
dns_txt 5
chmod -R a+rX "$work/www"

nginx_port=$(free_port)
start_nginx() {
  cat >"$work/nginx/nginx.conf" <<EOF
pid $work/nginx/nginx.pid;
worker_processes 1;
error_log $work/nginx/error.log warn;
events { worker_connections 256; }
http {
  log_format mirror '\$request_uri \$status \$body_bytes_sent';
  access_log $work/nginx/access.log mirror;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  default_type application/octet-stream;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
EOF
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e stderr -g 'daemon off;' 2>>"$work/nginx/out" &
  nginx_pid=$!
  for _ in $(seq 1 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/clamav/dns.txt" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nginx did not start: $(cat "$work/nginx/out")"
}
start_nginx

port=$(free_port)
cat >"$work/seccloud.yaml" <<YAML
node: {name: it, state_dir: state}
events: {spool_dir: spool}
supervisor: {admin: "127.0.0.1:$((port - 2))"}
scan:
  socket: scand.sock
  workers: 4
  clamav: {database: sigs}
  updates:
    poll_interval: 500ms
    max_age: 24h
    mirror:
      url: http://127.0.0.1:$nginx_port/clamav
      databases: [daily.cud]
      allow_unsigned: true
      interval: 1s
      timeout: 10s
      max_download_size: 1MiB
YAML
"$bin" scand --config "$work/seccloud.yaml" 2>"$work/scand.log" &
scand_pid=$!

# 1. First update.
wait_event_count '"action":"mirror-updated"' 1 "the first mirror update"
events | grep '"action":"mirror-updated"' | grep -q '"updated":"daily.cud 0 -> 5"' ||
  fail "mirror-updated event: $(events | grep mirror-updated)"
[ -f "$work/sigs/daily.cud" ] || fail "daily.cud not installed"
[ -z "$(ls -A "$work/sigs/.seccloud-update" 2>/dev/null)" ] || fail "staging not cleaned: $(ls -A "$work/sigs/.seccloud-update")"
grep -q "SecCloud-Mirror-Probe-One" <<<"$(scan "$work/probe1.bin")" || fail "probe one not detected after the update"
grep -q '"db_version":"clamav:daily-5' <<<"$(db_version)" || fail "db_version: $(db_version)"
[ "$(full_gets daily.cud)" = 1 ] || fail "daily.cud downloaded $(full_gets daily.cud) times"
metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
grep -q '^seccloud_scan_mirror_polls_total [1-9]' <<<"$metrics" || fail "mirror polls metric: $(grep mirror <<<"$metrics")"
grep -q '^seccloud_scan_mirror_last_success_seconds [1-9]' <<<"$metrics" || fail "no last mirror success"
# Two days old against max_age 24 h: the staleness alarm.
wait_event_count '"action":"signatures-stale"' 1 "the staleness alert for a two-day-old container"

# 2. Unchanged version: three more polls read dns.txt and download nothing.
n=$(grep -c '^/clamav/dns.txt 200' "$work/nginx/access.log")
for _ in $(seq 1 50); do [ "$(grep -c '^/clamav/dns.txt 200' "$work/nginx/access.log")" -ge $((n + 3)) ] && break; sleep 0.2; done
[ "$(grep -c '^/clamav/dns.txt 200' "$work/nginx/access.log")" -ge $((n + 3)) ] || fail "dns.txt not polled"
[ "$(full_gets daily.cud)" = 1 ] || fail "unchanged version downloaded again"

# 3. Without dns.txt the header is read with a Range request: 206, 512 bytes, no download.
rm "$work/www/clamav/dns.txt"
for _ in $(seq 1 50); do grep -q '^/clamav/daily.cud 206 512$' "$work/nginx/access.log" && break; sleep 0.2; done
grep -q '^/clamav/daily.cud 206 512$' "$work/nginx/access.log" || fail "no 512-byte Range request"
[ "$(full_gets daily.cud)" = 1 ] || fail "header-only poll downloaded the container"

# 4. A tampered version 6: one byte of the archive flipped.
failed=$(count_events '"action":"mirror-update-failed"')
build_cud 6 daily "$work/daily6.cud" "$sig1" "$sig2"
python3 - "$work/daily6.cud" <<'PY'
import sys
p = sys.argv[1]; d = bytearray(open(p, "rb").read()); d[600] ^= 0x01; open(p, "wb").write(d)
PY
cp "$work/daily6.cud" "$work/www/clamav/daily.cud.new" && mv "$work/www/clamav/daily.cud.new" "$work/www/clamav/daily.cud"
dns_txt 6
chmod -R a+rX "$work/www"
wait_event_count '"action":"mirror-update-failed"' $((failed + 1)) "the refusal of a tampered container"
events | grep '"action":"mirror-update-failed"' | tail -1 | grep -q 'MD5 of the archive' ||
  fail "tampered: $(events | grep mirror-update-failed | tail -1)"
events | grep '"action":"mirror-update-failed"' | tail -1 | grep -q '"outcome":"failure"' || fail "not a failure event"
# No .cdiff on the mirror: the incremental path said why before the whole container was tried.
events | grep '"action":"mirror-incremental-failed"' | grep -q 'daily-6.cdiff answered HTTP 404' ||
  fail "no incremental-failure event for a missing .cdiff: $(events | grep incremental | tail -1)"
grep -q '"db_version":"clamav:daily-5' <<<"$(db_version)" || fail "engine changed: $(db_version)"
grep -q "probe2.bin: OK" <<<"$(scan "$work/probe2.bin")" || fail "tampered signatures in use"
grep -q "SecCloud-Mirror-Probe-One" <<<"$(scan "$work/probe1.bin")" || fail "old engine lost"

# 5. A version 7 built before the loaded version 5: refused as a rollback.
build_cud 7 daily "$work/www/clamav/daily.cud" "$sig1" "$sig2"
set_build_time "$work/www/clamav/daily.cud" $(($(date +%s) - 3 * 86400))
dns_txt 7
chmod -R a+rX "$work/www"
for _ in $(seq 1 50); do events | grep -q 'refused as a rollback' && break; sleep 0.2; done
events | grep -q 'refused as a rollback' || fail "older build not refused: $(events | grep mirror-update-failed | tail -1)"
grep -q '"db_version":"clamav:daily-5' <<<"$(db_version)" || fail "engine changed: $(db_version)"

# 6. Mirror down: failure events, the old engine scans, the stale signatures keep health red.
stop_nginx
for _ in $(seq 1 50); do events | grep 'mirror-update-failed' | tail -1 | grep -q 'connect' && break; sleep 0.2; done
events | grep 'mirror-update-failed' | tail -1 | grep -q 'connect' || fail "no failure event with the mirror down"
grep -q "SecCloud-Mirror-Probe-One" <<<"$(scan "$work/probe1.bin")" || fail "old engine lost with the mirror down"
health=$(curl -sS "http://127.0.0.1:$port/healthz")
grep -q '"signatures":{"ok":false' <<<"$health" || fail "stale signatures not red: $health"
grep -q '"mirror":{"ok":false' <<<"$health" || fail "mirror failure not in health: $health"
grep -q '^seccloud_scan_mirror_failures_total [1-9]' <<<"$(curl -fsS "http://127.0.0.1:$port/metrics")" ||
  fail "mirror failures not counted"

# 7. The mirror comes back with version 8 while 4 clients scan without pause: nothing refused.
build_cud 8 daily "$work/www/clamav/daily.cud" "$sig1" "$sig2"
# A .cdiff from 5 (loaded) to 6, signed correctly but with a key that is not ClamAV's: scand
# verifies with ClamAV's key only, refuses it and downloads the whole version 8.
sign_cdiff 6 $'OPEN daily.ndb\nADD SecCloud-Forged:0:*:464f52474544\nCLOSE\n' "$work/www/clamav/daily-6.cdiff"
dns_txt 8
chmod -R a+rX "$work/www"
updated=$(count_events '"action":"mirror-updated"')
python3 "$src/bench/scan_load.py" scand "$work/scand.sock" "$work/probe1.bin" 4 8 SecCloud-Mirror-Probe-One >"$work/load.json" &
load_pid=$!
sleep 1
start_nginx
wait_event_count '"action":"mirror-updated"' $((updated + 1)) "the update to version 8"
kill -0 "$load_pid" 2>/dev/null || fail "the swap landed after the load had ended: lengthen the load"
wait "$load_pid" || fail "load generator failed"
load=$(cat "$work/load.json")
echo "load during the swap: $load"
python3 - "$load" <<'PY' || fail "scans refused during the swap: $load"
import json, sys
r = json.loads(sys.argv[1])
sys.exit(0 if r["refused"] == 0 and r["scans"] > 0 else 1)
PY
grep -q '"db_version":"clamav:daily-8' <<<"$(db_version)" || fail "db_version after the swap: $(db_version)"
grep -q "SecCloud-Mirror-Probe-Two" <<<"$(scan "$work/probe2.bin")" || fail "version 8 signature not in effect"
events | grep '"action":"mirror-incremental-failed"' | grep -q 'daily-6.cdiff: .cdiff digital signature' ||
  fail "a .cdiff not signed by ClamAV was not refused: $(events | grep incremental | tail -1)"
events | grep '"action":"mirror-updated"' | tail -1 | grep -q '"updated":"daily.cud 5 -> 8"' ||
  fail "not the whole container after the refused .cdiff: $(events | grep mirror-updated | tail -1)"
for _ in $(seq 1 30); do
  health=$(curl -sS "http://127.0.0.1:$port/healthz")
  grep -q '"signatures":{"ok":true' <<<"$health" && break; sleep 0.2
done
grep -q '"signatures":{"ok":true' <<<"$health" || fail "fresh signatures still red: $health"
stop_scand

# 8. A .cvd that claims a digital signature that is not ClamAV's: refused by the header check.
build_cud 3 main "$work/www/clamav/main.cvd" "$sig2"
set_header "$work/www/clamav/main.cvd" 6 "$(head -c 256 /dev/urandom | base64 -w0 | tr -d '=' | head -c 340)"
echo "1.4.6:3:8:$(date +%s):1:90:0:0" >"$work/www/clamav/dns.txt"
chmod -R a+rX "$work/www"
sed -i 's/databases: \[daily.cud\]/databases: [main.cvd]/; s/allow_unsigned: true/allow_unsigned: false/' "$work/seccloud.yaml"
failed=$(count_events '"action":"mirror-update-failed"')
"$bin" scand --config "$work/seccloud.yaml" 2>>"$work/scand.log" &
scand_pid=$!
wait_event_count '"action":"mirror-update-failed"' $((failed + 1)) "the refusal of a forged .cvd"
events | grep 'mirror-update-failed' | tail -1 | grep -q 'digital signature.*not signed by ClamAV' ||
  fail "forged .cvd: $(events | grep mirror-update-failed | tail -1)"
[ ! -e "$work/sigs/main.cvd" ] || fail "forged main.cvd installed"
stop_scand
echo "scan mirror integration: OK"
