#!/bin/sh
# Makes a CA and a server certificate signed by it, for the k8sadmission webhook
# (or kube-audit-rest) when cert-manager is not used: local tests, kind, a lab cluster.
#
#   examples/make-certs.sh                                  # ./certs, default names
#   examples/make-certs.sh -o /tmp/certs DNS:kube-audit-rest.falco.svc
#   SANS=DNS:webhook.example.org DAYS=30 examples/make-certs.sh
#
# Arguments: -o DIR (output directory) and any number of extra subjectAltNames
# (DNS:name or IP:address), appended to SANS.
# Environment:
#   OUT_DIR    output directory                       (default ./certs)
#   SANS       subjectAltNames, comma-separated       (default DNS:localhost,IP:127.0.0.1,
#              DNS:k8sadmission.falco.svc,DNS:k8sadmission.falco.svc.cluster.local)
#   CN         server certificate common name         (default k8sadmission.falco.svc)
#   DAYS       server certificate lifetime in days    (default 365)
#   CA_DAYS    CA lifetime in days                    (default 3650)
#   CLIENT_CN  if set, also make client.crt/client.key for mTLS tests (tlsClientCA)
#
# Writes: ca.key ca.crt (reused when both exist, so the caBundle stays the same),
# tls.key tls.crt (server; tlsKey/tlsCert), falco.pem (server cert + key in one file;
# sslCertificate) and, with CLIENT_CN, client.key client.crt. Keys are ECDSA P-256, PKCS#8.
# Prints the caBundle line for a ValidatingWebhookConfiguration.
set -eu

OUT_DIR=${OUT_DIR:-./certs}
SANS=${SANS:-DNS:localhost,IP:127.0.0.1,DNS:k8sadmission.falco.svc,DNS:k8sadmission.falco.svc.cluster.local}
CN=${CN:-k8sadmission.falco.svc}
DAYS=${DAYS:-365}
CA_DAYS=${CA_DAYS:-3650}
CLIENT_CN=${CLIENT_CN:-}

usage() {
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case $1 in
        -o) [ $# -ge 2 ] || { usage >&2; exit 2; }; OUT_DIR=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        DNS:*|IP:*) SANS="$SANS,$1"; shift ;;
        *) echo "make-certs.sh: unknown argument '$1' (want -o DIR, DNS:name or IP:address)" >&2; exit 2 ;;
    esac
done

command -v openssl >/dev/null 2>&1 || { echo "make-certs.sh: openssl not found" >&2; exit 1; }

umask 077
mkdir -p "$OUT_DIR"
cd "$OUT_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

serial() {
    echo "0x$(openssl rand -hex 16)"
}

# issue NAME CN EXTFILE: a new key NAME.key and a certificate NAME.crt for CN, signed by the CA
# with the extensions of EXTFILE.
issue() {
    newkey "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
    openssl x509 -req -in "$tmp/$1.csr" -CA ca.crt -CAkey ca.key -set_serial "$(serial)" \
        -sha256 -days "$DAYS" -extfile "$3" -out "$1.crt" 2>/dev/null
}

# 1. The CA (kept when it exists: the caBundle in the cluster stays valid).
if [ -s ca.key ] && [ -s ca.crt ]; then
    echo "reusing the CA in $OUT_DIR/ca.crt" >&2
else
    newkey ca.key
    openssl req -x509 -new -key ca.key -sha256 -days "$CA_DAYS" \
        -subj "/CN=k8sadmission local CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out ca.crt
fi

# 2. The server certificate, with the SANs (clients check those, never the CN).
cat >"$tmp/server.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$SANS
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
issue tls "$CN" "$tmp/server.ext"
cat tls.crt tls.key >falco.pem

# 3. Optionally a client certificate, to test tlsClientCA (mTLS) with curl.
if [ -n "$CLIENT_CN" ]; then
    cat >"$tmp/client.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
    issue client "$CLIENT_CN" "$tmp/client.ext"
fi

chmod 644 ca.crt tls.crt
[ -z "$CLIENT_CN" ] || chmod 644 client.crt
openssl verify -CAfile ca.crt tls.crt >/dev/null

echo "wrote $OUT_DIR: ca.crt ca.key tls.crt tls.key falco.pem${CLIENT_CN:+ client.crt client.key}" >&2
echo "server SANs: $SANS" >&2
echo "# Secret for the Deployment (examples/k8s/falco-webhook.yaml mounts k8sadmission-tls):" >&2
echo "#   kubectl -n falco create secret tls k8sadmission-tls --cert=$OUT_DIR/tls.crt --key=$OUT_DIR/tls.key" >&2
echo "# caBundle for the ValidatingWebhookConfiguration (clientConfig.caBundle):" >&2
printf 'caBundle: %s\n' "$(base64 <ca.crt | tr -d '\n')"
