#!/usr/bin/env bash
# A private test PKI for the TLS tests (Redis over TLS, mutual TLS, HTTPS), made with openssl.
#   tls-certs.sh DIR
# Writes into DIR:
#   ca.crt / ca.key            private CA ("ttp test CA")
#   server.crt / server.key    server cert signed by ca, SAN = IP:127.0.0.1, IP:::1, DNS:localhost
#   client.crt / client.key    client cert signed by ca (extendedKeyUsage=clientAuth)
#   other-ca.crt / other-ca.key  a second, unrelated CA (for "wrong CA" tests)
#   other-server.crt / .key    server cert signed by other-ca (same SANs)
# Keys are EC P-256 in PKCS#8 PEM ("BEGIN PRIVATE KEY"), accepted by both redis-server (OpenSSL)
# and rustls-pki-types' PrivateKeyDer::from_pem_slice.
set -euo pipefail
dir=${1:?usage: tls-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
days=3650

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

mkca() { # name subject
  newkey "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days "$days" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$1.crt"
}

mkleaf() { # name ca subject ext
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "$3" -out "$1.csr"
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial \
    -days "$days" -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

server_ext='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash'
# (serverAuth+clientAuth on the server cert so the same pair can be used by redis-server for
#  tls-replication / tls-cluster, where a node is also a TLS client of other nodes.)
client_ext='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
subjectAltName=DNS:ttp-client
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash'

mkca ca "/CN=ttp test CA"
mkleaf server ca "/CN=localhost" "$server_ext"
mkleaf client ca "/CN=ttp-client" "$client_ext"
mkca other-ca "/CN=unrelated CA"
mkleaf other-server other-ca "/CN=localhost" "$server_ext"
rm -f ./*.srl

openssl verify -CAfile ca.crt server.crt client.crt >/dev/null
openssl verify -CAfile other-ca.crt other-server.crt >/dev/null
if openssl verify -CAfile other-ca.crt server.crt >/dev/null 2>&1; then
  echo "BUG: server.crt verifies against other-ca" >&2; exit 1
fi
echo "certificates written to $dir: $(ls | tr '\n' ' ')"
