#!/bin/sh
# tests/rpc/tls_certs.sh DIR - make the certificates of the TLS tests in DIR
# with the openssl command: two CAs (ca, otherca), and, each as NAME.pem
# with its key NAME.key:
#   server          signed by ca, names localhost, 127.0.0.1 and ::1
#   server-expired  the same, expired
#   server-other    signed by otherca
#   client          CN client-a, signed by ca (the allowed one)
#   client-b        CN client-b, signed by ca (valid, not allowed)
#   client-san      CN nobody, DNS name client-a (allowed by its SAN)
#   client-expired  CN client-a, signed by ca, expired
#   client-other    CN client-a, signed by otherca
# An expired certificate comes from `openssl ca` with dates in the past
# (openssl x509 -req takes no start date before 3.4).
set -eu
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
for ca in ca otherca; do
	key $ca
	openssl req -x509 -new -key $ca.key -subj "/CN=test $ca" -days 3650 \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign -out $ca.pem
	mkdir -p $ca.db
	: >$ca.db/index
	echo 01 >$ca.db/serial
	cat >$ca.cnf <<CNF
[ca]
default_ca = this
[this]
dir = $ca.db
database = $ca.db/index
serial = $ca.db/serial
new_certs_dir = $ca.db
certificate = $ca.pem
private_key = $ca.key
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
done
# cert NAME CA CN SAN [START END]
cert() {
	key "$1"
	openssl req -new -key "$1.key" -subj "/CN=$3" -addext "subjectAltName=$4" \
		-out "$1.csr"
	if [ $# -ge 6 ]; then
		dates="-startdate $5 -enddate $6"
	else
		dates="-days 3650"
	fi
	# shellcheck disable=SC2086
	openssl ca -batch -notext -config "$2.cnf" -in "$1.csr" -out "$1.pem" \
		$dates 2>/dev/null
}
past="20200101000000Z 20200102000000Z"
cert server ca server "DNS:localhost,IP:127.0.0.1,IP:::1"
# shellcheck disable=SC2086
cert server-expired ca server "DNS:localhost,IP:127.0.0.1,IP:::1" $past
cert server-other otherca server "DNS:localhost,IP:127.0.0.1,IP:::1"
cert client ca client-a "DNS:client-a.example"
cert client-b ca client-b "DNS:client-b"
cert client-san ca nobody "DNS:client-a"
# shellcheck disable=SC2086
cert client-expired ca client-a "DNS:client-a" $past
cert client-other otherca client-a "DNS:client-a"
