#!/usr/bin/env bash
# Runs a private OpenLDAP slapd for tests and demos: its own data dir, loopback ports, a
# self-signed CA, and demo users. No system slapd configuration is read or changed.
#
#   scripts/slapd.sh start DIR PORT [LDIF...]   ldap://127.0.0.1:PORT and ldaps://127.0.0.1:PORT+1
#   scripts/slapd.sh stop DIR
#
# start writes DIR/slapd.pid, DIR/slapd.log, DIR/ca.pem (the CA to trust for LDAPS/StartTLS)
# and returns once slapd answers a search. With SLAPD_WATCH_PID set, slapd is also stopped
# when that process exits, so a killed test run leaves no slapd behind.
#
# Directory: suffix dc=example,dc=test, rootdn cn=admin,dc=example,dc=test / admin,
# service account cn=radmfa,ou=services,dc=example,dc=test / radmfa-service,
# users alice/alice-pass (vpn-users, vpn-admins), bob/bob-pass (vpn-users), carol/carol-pass.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUFFIX="dc=example,dc=test"
ROOTDN="cn=admin,$SUFFIX"
ROOTPW="admin"
SERVICEDN="cn=radmfa,ou=services,$SUFFIX"

die() { echo "slapd.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start DIR PORT [LDIF...] | stop DIR"; }

ensure_packages() {
  # Serialised: parallel test packages may all start a slapd, and apt must not run twice.
  if command -v flock >/dev/null; then
    flock /tmp/radmfa-deps.lock "$here/deps.sh" slapd ldap-utils openssl
  else
    "$here/deps.sh" slapd ldap-utils openssl
  fi
}

make_certs() {
  local dir=$1
  [ -s "$dir/server.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=radmfa test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    >/dev/null 2>&1 || die "openssl: cannot create the CA"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" >/dev/null 2>&1 ||
    die "openssl: cannot create the server key"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 3650 -extfile "$dir/server.ext" -out "$dir/server.pem" >/dev/null 2>&1 ||
    die "openssl: cannot sign the server certificate"
}

write_conf() {
  local dir=$1
  cat >"$dir/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema

modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof

argsfile $dir/slapd.args
TLSCACertificateFile $dir/ca.pem
TLSCertificateFile $dir/server.pem
TLSCertificateKeyFile $dir/server.key
# Big groups: keep member values sorted so membership checks don't scan (FIELD-NOTES).
sortvals member uniqueMember
password-hash {SSHA}

database mdb
maxsize 268435456
suffix "$SUFFIX"
rootdn "$ROOTDN"
rootpw $ROOTPW
directory $dir/data
index objectClass eq
index uid,cn,mail eq
index member,uniqueMember eq

# memberOf is maintained on writes only; the demo data is therefore loaded over LDAP, not slapadd.
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint true

# Passwords: users bind and change their own; nobody reads them.
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
# The service account searches users and their memberOf; users read themselves.
access to *
  by dn.exact="$SERVICEDN" read
  by self read
  by * none
EOF
}

write_demo_ldif() {
  cat >"$1" <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: ou=services,$SUFFIX
objectClass: organizationalUnit
ou: services

dn: $SERVICEDN
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: radmfa
userPassword: radmfa-service

dn: uid=alice,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: alice
cn: Alice Anders
sn: Anders
displayName: Alice Anders
mail: alice@example.test
mobile: +15551230001
userPassword: alice-pass

dn: uid=bob,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: bob
cn: Bob Baker
sn: Baker
mail: bob@example.test
userPassword: bob-pass

dn: uid=carol,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: carol
cn: Carol Clark
sn: Clark
mail: carol@example.test
userPassword: carol-pass

dn: cn=vpn-users,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: vpn-users
member: uid=alice,ou=people,$SUFFIX
member: uid=bob,ou=people,$SUFFIX

dn: cn=vpn-admins,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: vpn-admins
member: uid=alice,ou=people,$SUFFIX
EOF
}

running() { [ -s "$1/slapd.pid" ] && kill -0 "$(cat "$1/slapd.pid")" 2>/dev/null; }

fail_start() {
  local dir=$1 msg=$2
  echo "slapd.sh: $msg; slapd log ($dir/slapd.log):" >&2
  tail -n 40 "$dir/slapd.log" >&2 || true
  cmd_stop "$dir" >/dev/null 2>&1 || true
  exit 1
}

cmd_start() {
  [ $# -ge 2 ] || usage
  local dir=$1 port=$2
  shift 2
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] && [ "$port" -lt 65535 ] || die "bad port: $port"
  for f in "$@"; do [ -r "$f" ] || die "cannot read LDIF $f"; done
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  running "$dir" && die "slapd already running in $dir (pid $(cat "$dir/slapd.pid"))"

  ensure_packages
  mkdir -p "$dir/data"
  rm -rf "${dir:?}/data/"*
  make_certs "$dir"
  write_conf "$dir"
  write_demo_ldif "$dir/demo.ldif"
  /usr/sbin/slapd -Tt -u -f "$dir/slapd.conf" >"$dir/slapd.log" 2>&1 || fail_start "$dir" "slapd.conf does not check"

  local url="ldap://127.0.0.1:$port/" urls="ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$((port + 1))/"
  # -d keeps slapd in the foreground logging to our file; & makes it ours to stop by PID.
  /usr/sbin/slapd -d 256 -f "$dir/slapd.conf" -h "$urls" </dev/null >>"$dir/slapd.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/slapd.pid"

  if [ -n "${SLAPD_WATCH_PID:-}" ]; then
    local watch=$SLAPD_WATCH_PID
    ( while kill -0 "$watch" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
      kill "$pid" 2>/dev/null || true ) </dev/null >/dev/null 2>&1 &
  fi

  local ok=0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || fail_start "$dir" "slapd exited during start"
    if ldapsearch -x -H "$url" -o nettimeout=1 -l 1 -D "$ROOTDN" -w "$ROOTPW" -b "" -s base \
      namingContexts >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  [ $ok -eq 1 ] || fail_start "$dir" "slapd did not answer on $url within 10 s"

  ldapadd -x -H "$url" -o nettimeout=5 -D "$ROOTDN" -w "$ROOTPW" -f "$dir/demo.ldif" \
    >"$dir/ldapadd.log" 2>&1 || { cat "$dir/ldapadd.log" >&2; fail_start "$dir" "loading the demo LDIF failed"; }
  for f in "$@"; do
    ldapadd -x -H "$url" -o nettimeout=5 -D "$ROOTDN" -w "$ROOTPW" -f "$f" \
      >>"$dir/ldapadd.log" 2>&1 || { cat "$dir/ldapadd.log" >&2; fail_start "$dir" "loading $f failed"; }
  done
  echo "slapd.sh: pid $pid serving $urls for $SUFFIX (data $dir)"
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local dir=$1 pid
  [ -s "$dir/slapd.pid" ] || return 0
  pid="$(cat "$dir/slapd.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/slapd.pid"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  *) usage ;;
esac
