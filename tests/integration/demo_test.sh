#!/usr/bin/env bash
# The README's first command, end to end (R3, R8, R9, R10, R24): prepares and starts
# `seccloud run --config etc/demo.yaml` and checks what ../shared/demo.md promises a newcomer —
# a page through the proxy, block pages for a blocked category and for EICAR over HTTP and over
# intercepted HTTPS and for an EICAR upload, a warning that can be accepted, a force-blocked C&C domain a tenant cannot
# whitelist, an expired origin certificate refused, a no-decrypt domain spliced, every service
# healthy in `seccloud status`, each action in the proxy's events with tenant and terminal, and
# the same actions found in the SOC, the C&C request raising a threat-intelligence alert.
# Uses the demo's fixed addresses (127.0.0.1:3128, :5514-5515, :6514, :9000, :19000-19003,
# 127.100.0.10-11): run alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SECCLOUD_BINARY:-$root/build/release/apps/seccloud/seccloud}
cd "$root"
fail() { echo "demo_test: FAIL: $*" >&2; exit 1; }

scripts/demo-prepare "$bin" >/dev/null
spool=var/demo/spool/proxy
before=$( (cat $spool/*.ndjson 2>/dev/null || true) | wc -l)
"$bin" run --config etc/demo.yaml > var/demo/demo_test.out 2>&1 &
sup=$!
trap 'kill -TERM $sup 2>/dev/null; wait $sup 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  "$bin" status --config etc/demo.yaml >/dev/null 2>&1 && break
  sleep 0.2
done
"$bin" status --config etc/demo.yaml || fail "not every service is running and healthy"
# scand's signature versions reach `seccloud status` (its health is probed every 2 s).
for _ in $(seq 1 50); do
  "$bin" status --config etc/demo.yaml | grep -q 'scand: .*signatures: clamav:' && break
  sleep 0.2
done
"$bin" status --config etc/demo.yaml | grep -q 'scand: .*signatures: clamav:.*last update' ||
  fail "seccloud status shows scand's signature versions"

tsu=(-s -x http://127.0.0.1:3128 --interface 127.10.0.5 --cacert var/demo/ca/ca.pem)
ise=(-s -x http://127.0.0.1:3128 --interface 127.30.0.5 --cacert var/demo/ca/ca.pem)
code() { curl "$@" -o /dev/null -w '%{http_code}'; }

[ "$(code "${tsu[@]}" http://www.origin.example/)" = 200 ] || fail "a page through the proxy"
[ "$(code "${tsu[@]}" https://secure.origin.example/)" = 200 ] || fail "a page over intercepted HTTPS"
page=$(curl "${tsu[@]}" http://casino.example/)
echo "$page" | grep -q 'gambling' || fail "block page names the category"
echo "$page" | grep -q '参照番号' || fail "block page in Japanese with a reference id"
page=$(curl "${tsu[@]}" http://www.origin.example/eicar.com)
echo "$page" | grep -q 'Eicar-Test-Signature' || fail "EICAR over HTTP is blocked by name"
page=$(curl "${tsu[@]}" https://secure.origin.example/eicar.com)
echo "$page" | grep -q 'Eicar-Test-Signature' || fail "EICAR over intercepted HTTPS is blocked"
page=$(curl "${tsu[@]}" -F file=@var/demo/eicar.com http://www.origin.example/)
echo "$page" | grep -q 'Eicar-Test-Signature' || fail "an EICAR upload is blocked by name"
[ "$(code "${ise[@]}" http://c2.demo.example/)" = 403 ] || fail "a tenant whitelist lifted a force-block"
[ "$(code "${ise[@]}" http://casino.example/)" = 200 ] || fail "a tenant whitelist of a common block"
[ "$(code "${tsu[@]}" -d x=1 http://upload.origin.example/upload)" = 403 ] || fail "posting restriction"
[ "$(code "${tsu[@]}" http://upload.origin.example/)" = 200 ] || fail "GET to a posting-restricted site"
page=$(curl "${tsu[@]}" https://expired.origin.example/)
echo "$page" | grep -q 'expired' || fail "an expired origin certificate is refused with a page"
issuer=$(curl "${tsu[@]}" --cacert var/demo/pki/internet-root.pem -v https://bank.example/ 2>&1 | grep -i 'issuer:' || true)
echo "$issuer" | grep -q 'demo internet root' || fail "bank.example is spliced (origin's own certificate): $issuer"
link=$(curl "${tsu[@]}" http://games.example/ | grep -o 'href="http://seccloud.invalid[^"]*"' | head -n 1 | sed 's/^href="//;s/"$//;s/&amp;/\&/g')
[ -n "$link" ] || fail "warning page with a continue link"
[ "$(code "${tsu[@]}" "$link")" = 302 ] || fail "continue link accepted"
[ "$(code "${tsu[@]}" http://games.example/)" = 200 ] || fail "warning accepted for this terminal"
[ "$(code -s -x http://127.0.0.1:3128 --interface 127.10.0.6 http://games.example/)" = 403 ] || fail "another terminal still warned"
[ "$(code -s -x http://127.0.0.1:3128 --interface 127.200.0.5 http://www.origin.example/)" = 403 ] || fail "non-tenant refused"

# R18: the SOC has the same actions, with tenant and terminal (demo.md: `seccloud soc search …`).
soc_find() {
  for _ in $(seq 1 100); do
    "$bin" soc search "$1" --since 1h --config etc/demo.yaml >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "the SOC finds no record for $1"
}
soc_find 'url.domain:casino.example AND source.ip:127.10.0.5 AND tenant.id:tsu AND event.action:blocked'
soc_find 'url.domain:c2.demo.example AND tenant.id:ise AND event.kind:alert'
soc_find 'seccloud.scan.result:infected AND tenant.id:tsu'
# The force-blocked C&C lookup matched the demo threat intelligence: an alert for ise.
alerts=""
for _ in $(seq 1 50); do
  alerts=$("$bin" soc alerts --tenant ise --since 1h --json --config etc/demo.yaml)
  grep -q '"rule_id":"intel:demo-threat-intel"' <<<"$alerts" && break
  sleep 0.2
done
grep -q '"rule_id":"intel:demo-threat-intel"' <<<"$alerts" ||
  fail "no threat-intelligence alert for ise's C&C request"
grep -q '"tenant":"tsu"' <<<"$alerts" && fail "tenant ise sees tsu's alerts"
"$bin" soc verify --config etc/demo.yaml >/dev/null || fail "seccloud soc verify"

kill -TERM $sup
wait $sup || fail "the supervisor did not drain cleanly"
trap - EXIT
events=$(cat $spool/*.ndjson | tail -n +$((before + 1)))
echo "$events" | grep -q '"seccloud":{"attribution":"direct".*"scan":{"result":"infected"' || \
  echo "$events" | grep -q '"result":"infected"' || fail "an infected-download event"
echo "$events" | grep '"kind":"alert"' | grep -q '"tenant":{"id":"ise"}' || fail "force-block alert for ise"
echo "$events" | grep '"url":{"full":"http://casino.example/"' | grep -q '"source":{"ip":"127.10.0.5"}' || fail "terminal in the event"
echo "demo_test: OK"
