#!/bin/sh
# Makes a throwaway test CA and a server certificate for 127.0.0.1 / ::1 / localhost, signed by
# it, in DIR (ca.pem, ca.key, server.pem, server.key). For the fake exchange's TLS mode only:
# made at test time, never committed, never trusted outside the test that made it.
# Usage: tests/fake/mkca.sh DIR
set -eu
d=$1
mkdir -p "$d"
cd "$d"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=Kestrel test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj "/CN=localhost" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days 2 -extfile ext.cnf >/dev/null 2>&1
rm -f server.csr ext.cnf ca.srl
