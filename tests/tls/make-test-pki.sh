#!/usr/bin/env bash
# Builds a throw-away PKI for the upstream-verification tests (row R9), modelled on badssl.com's
# catalogue. Usage: make-test-pki.sh OUTDIR [IP]
#
# OUTDIR/bundle.pem        the only root the tests trust (root.pem)
# OUTDIR/<origin>.pem      the chain the origin serves (leaf first), <origin>.key its key
# OUTDIR/intermediate.crl.pem  CRL of the intermediate, revoking revoked.pem
#
# origins (host name the test connects to -> what it gets):
#   good              good.seccloud.test        leaf + intermediate, chains to root
#   good-ip           IP (default 127.0.0.1)    as good, subjectAltName IP
#   expired           expired.seccloud.test     leaf valid 2020-2021
#   not-yet-valid     future.seccloud.test      leaf valid 2040-2041
#   wrong-host        wrong-host.seccloud.test  leaf for other.seccloud.test
#   self-signed       self-signed.seccloud.test self-signed leaf
#   untrusted-root    untrusted-root.seccloud.test  leaf + other intermediate + other root
#   untrusted-intermediate  untrusted-int.seccloud.test  leaf + other intermediate (root not sent)
#   incomplete-chain  incomplete.seccloud.test  leaf only; its intermediate is not sent
#   revoked           revoked.seccloud.test     leaf + intermediate; revoked in intermediate.crl.pem
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [IP]" >&2; exit 2; }
out=$1
ip=${2:-127.0.0.1}
mkdir -p "$out"
cd "$out"
umask 077

cat > openssl.cnf <<'CNF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = $ENV::CADIR
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
organizationName = optional
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
export SAN=DNS:unused CADIR=.

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
cadir() {
  mkdir -p "$1.ca/newcerts"
  : > "$1.ca/index.txt"
  openssl rand -hex 16 > "$1.ca/serial"
  echo 01 > "$1.ca/crlnumber"
}
# root NAME CN
root() {
  key "$1"
  openssl req -config openssl.cnf -x509 -new -key "$1.key" -subj "/O=seccloud test/CN=$2" \
    -days 3650 -extensions v3_ca -out "$1.pem"
  cadir "$1"
}
# sign ISSUER NAME CN SAN EXTENSIONS [dates...]
sign() {
  local issuer=$1 name=$2 cn=$3 san=$4 ext=$5
  shift 5
  key "$name"
  openssl req -config openssl.cnf -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
  SAN=$san CADIR=$issuer.ca openssl ca -batch -notext -config openssl.cnf -cert "$issuer.pem" \
    -keyfile "$issuer.key" -in "$name.csr" -out "$name.cert" -extensions "$ext" "$@" 2>/dev/null
}

root root "seccloud test root"
sign root intermediate "seccloud test intermediate" DNS:unused v3_ca -days 3650
cp intermediate.cert intermediate.pem
cadir intermediate
root other-root "seccloud other root (not trusted)"
sign other-root other-intermediate "seccloud other intermediate" DNS:unused v3_ca -days 3650
cp other-intermediate.cert other-intermediate.pem
cadir other-intermediate

sign intermediate good good.seccloud.test DNS:good.seccloud.test v3_leaf -days 30
cat good.cert intermediate.cert > good.pem
sign intermediate good-ip "$ip" "IP:$ip" v3_leaf -days 30
cat good-ip.cert intermediate.cert > good-ip.pem
sign intermediate expired expired.seccloud.test DNS:expired.seccloud.test v3_leaf \
  -startdate 20200101000000Z -enddate 20210101000000Z
cat expired.cert intermediate.cert > expired.pem
sign intermediate not-yet-valid future.seccloud.test DNS:future.seccloud.test v3_leaf \
  -startdate 20400101000000Z -enddate 20410101000000Z
cat not-yet-valid.cert intermediate.cert > not-yet-valid.pem
sign intermediate wrong-host other.seccloud.test DNS:other.seccloud.test v3_leaf -days 30
cat wrong-host.cert intermediate.cert > wrong-host.pem
key self-signed
SAN=DNS:self-signed.seccloud.test openssl req -config openssl.cnf -x509 -new \
  -key self-signed.key -subj /CN=self-signed.seccloud.test -days 30 -extensions v3_leaf \
  -out self-signed.pem
sign other-intermediate untrusted-root untrusted-root.seccloud.test \
  DNS:untrusted-root.seccloud.test v3_leaf -days 30
cat untrusted-root.cert other-intermediate.cert other-root.pem > untrusted-root.pem
sign other-intermediate untrusted-intermediate untrusted-int.seccloud.test \
  DNS:untrusted-int.seccloud.test v3_leaf -days 30
cat untrusted-intermediate.cert other-intermediate.cert > untrusted-intermediate.pem
sign intermediate incomplete-chain incomplete.seccloud.test DNS:incomplete.seccloud.test \
  v3_leaf -days 30
cp incomplete-chain.cert incomplete-chain.pem
sign intermediate revoked revoked.seccloud.test DNS:revoked.seccloud.test v3_leaf -days 30
cat revoked.cert intermediate.cert > revoked.pem
CADIR=intermediate.ca openssl ca -config openssl.cnf -cert intermediate.cert \
  -keyfile intermediate.key -revoke revoked.cert -crl_reason keyCompromise 2>/dev/null
CADIR=intermediate.ca openssl ca -config openssl.cnf -gencrl -cert intermediate.cert \
  -keyfile intermediate.key -out intermediate.crl.pem 2>/dev/null

cp root.pem bundle.pem
chmod 644 ./*.pem
rm -f ./*.csr
