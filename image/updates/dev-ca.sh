#!/bin/sh
# A DEVELOPMENT certificate authority for update bundles: a root CA (its certificate is the
# keyring a device trusts) and a signing key with a certificate from that CA.
#
#   image/updates/dev-ca.sh OUTDIR [NAME]
#
# Writes OUTDIR/ca.key.pem, ca.cert.pem (the keyring), signing.key.pem, signing.cert.pem.
# For development and tests only: these keys are made fresh on each run and never committed
# (.gitignore). The production CA and signing key are made once by the supplier on an offline
# machine and stay there (image/updates/README.md, "Keys"); a device holds only ca.cert.pem.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [NAME]" >&2; exit 2; }
out=$1
name=${2:-nvr development}
mkdir -p "$out"
umask 077
cd "$out"
cat > ca.cnf <<CNF
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
O = nvr
CN = $name update CA
[ ca_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ signing_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -config ca.cnf -extensions ca_ext -keyout ca.key.pem -out ca.cert.pem 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/O=nvr/CN=$name update signing" -keyout signing.key.pem -out signing.csr.pem \
    2>/dev/null
openssl x509 -req -in signing.csr.pem -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial \
    -days 825 -extfile ca.cnf -extensions signing_ext -out signing.cert.pem 2>/dev/null
rm -f signing.csr.pem ca.cert.srl ca.cnf
chmod 644 ca.cert.pem signing.cert.pem
echo "$out: keyring ca.cert.pem; signing key signing.key.pem with signing.cert.pem"
