#!/usr/bin/env bash
# Runs a real Samba AD domain controller for tests, as a plain background process on loopback,
# with everything (databases, config, TLS, logs) under one directory. No system Samba
# configuration is read or changed.
#
#   scripts/samba-ad.sh start DIR    provision DIR (first time only), start the DC, populate it
#   scripts/samba-ad.sh stop DIR     stop the DC started from DIR (by its PID) and wait for it
#
# Samba's ports are fixed (389, 636, 88, 464, 135, 3268/3269, 4915x) and cannot be moved, so only
# one DC can run on a machine: start refuses, naming the listener, when one already answers.
#
# start writes DIR/samba.pid, DIR/samba.log (the DC's own output), DIR/tls/ca.pem (the CA that
# signed the LDAPS certificate: SANs 127.0.0.1 and localhost) and returns once the DC answers a
# simple bind and the directory is populated. With SAMBA_WATCH_PID set, the DC is also stopped
# when that process exits (a test binary killed by its timeout leaves no DC holding the ports),
# and with SAMBA_WATCH_RMDIR=1 as well DIR is then removed.
#
# Domain: realm EXAMPLE.TEST, NetBIOS domain EXAMPLE, base DC=example,DC=test, Administrator /
# Admin-Pass-2024!. Every user is CN=NAME,CN=Users,DC=example,DC=test (UPN NAME@example.test),
# password User-Pass-2024!:
#   radmfa-svc   service account, password Svc-Pass-2024!
#   alice        in vpn-admins (nested in vpn-users); mail, mobile +15551230001, "Alice Anders"
#   bob          in vpn-users
#   dave         disabled                                   bind: data 533
#   erin         must change password at next logon         bind: data 773
#   frank        password expired (pwdLastSet 100 days ago) bind: data 532
#   gina         locked out (PSO threshold 3, 3 bad binds)  bind: data 775 (any password)
#   hank         account expired (accountExpires in 2012)   bind: data 701
#   ivan         logonHours all zero                        bind: data 530
#   judy         userWorkstations=NOSUCHHOST                bind: data 531
# A wrong password (or an unknown user) gets data 52e, except for gina.
# Groups: vpn-users, vpn-admins (member of vpn-users), mfa-exempt, contractors, vpn-mfa-pilot.
# Password policy: complexity on, length >= 7, history 24, no minimum age, no lockout (only
# gina's PSO has one); a replaced password stops working at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REALM="EXAMPLE.TEST"
DOMAIN="EXAMPLE"
DNSDOMAIN="example.test"
BASE="DC=example,DC=test"
ADMIN_UPN="Administrator@$DNSDOMAIN"
ADMIN_PASS='Admin-Pass-2024!'
SVC_PASS='Svc-Pass-2024!'
USER_PASS='User-Pass-2024!'
URL="ldap://127.0.0.1"
# Samba's Python bindings belong to Debian's interpreter; a python3 earlier in PATH (pyenv, venv)
# cannot import them.
PY=/usr/bin/python3
START_TIMEOUT=60

die() { echo "samba-ad.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start DIR | stop DIR"; }

ensure_packages() {
  # samba alone is not enough with --no-install-recommends: provisioning needs the AD schema
  # (samba-ad-provision), the DSDB modules and the acl_xattr VFS module it sets sysvol ACLs
  # with. Serialised: parallel test packages must not run apt twice.
  local pkgs=(samba winbind samba-ad-provision samba-dsdb-modules samba-vfs-modules ldap-utils openssl)
  if command -v flock >/dev/null; then
    flock /tmp/radmfa-deps.lock "$here/deps.sh" "${pkgs[@]}"
  else
    "$here/deps.sh" "${pkgs[@]}"
  fi
}

# alive PID: the process exists and is not a zombie (an exited DC whose parent, the start
# script, has not reaped it yet still answers kill -0).
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

running() { [ -s "$1/samba.pid" ] && alive "$(cat "$1/samba.pid")"; }

# port_busy reports whether something accepts TCP connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_ports_free() {
  local p
  for p in 389 636 88; do
    if port_busy "$p"; then
      echo "samba-ad.sh: 127.0.0.1:$p already answers; Samba's ports are fixed, so only one DC can" \
        "run at a time. Stop the other one (scripts/samba-ad.sh stop ITS_DIR). Listener:" >&2
      ss -ltnp "sport = :$p" >&2 2>/dev/null || true
      exit 1
    fi
  done
}

fail_start() {
  local dir=$1 msg=$2
  echo "samba-ad.sh: $msg; DC log ($dir/samba.log):" >&2
  tail -n 60 "$dir/samba.log" >&2 2>/dev/null || true
  cmd_stop "$dir" >/dev/null 2>&1 || true
  exit 1
}

# ldap_bind NAME PASSWORD prints "ok" when a simple bind succeeds, else ldapsearch's error text.
ldap_bind() {
  local out
  if out=$(ldapsearch -LLL -x -H "$URL" -o nettimeout=5 -l 5 -D "$1" -w "$2" -b "" -s base dn 2>&1); then
    echo ok
  else
    echo "$out" | tr '\n' ' '
  fi
}

# subcode NAME PASSWORD prints the AD "data XXX" sub-code of a refused bind, or "ok".
subcode() {
  local r
  r=$(ldap_bind "$1" "$2")
  if [ "$r" = ok ]; then
    echo ok
  elif [[ "$r" =~ data\ ([0-9a-f]+) ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo "?"
  fi
}

make_certs() {
  # Samba's autogenerated certificate names only the host (no SANs), so clients checking
  # 127.0.0.1 against a CA would fail; a private CA lets tests verify LDAPS for real.
  local tls=$1/tls
  [ -s "$tls/server.pem" ] && return 0
  mkdir -p "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=radmfa Samba test CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    >/dev/null 2>&1 || die "openssl: cannot create the CA"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=dc1.$DNSDOMAIN" -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1 ||
    die "openssl: cannot create the server key"
  printf 'subjectAltName=DNS:localhost,DNS:dc1.%s,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    "$DNSDOMAIN" >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 3650 -extfile "$tls/server.ext" -out "$tls/server.pem" >/dev/null 2>&1 ||
    die "openssl: cannot sign the server certificate"
  # Samba refuses a key file that others can read.
  chmod 600 "$tls/server.key" "$tls/ca.key"
}

configure() {
  local dir=$1 conf=$1/etc/smb.conf extra
  extra="$(mktemp)"
  cat >"$extra" <<EOF
	# --- radmfa test DC (scripts/samba-ad.sh) ---
	# Simple binds over plain LDAP on 389 (Samba refuses them by default: "Transport
	# encryption required"); provision's --option does not persist this, so it is set here.
	ldap server require strong auth = no
	# Only what an LDAP/Kerberos client needs: no smbd, winbindd, NetBIOS or DNS updates,
	# so the DC starts in about a second and opens fewer ports.
	server services = ldap, cldap, kdc, rpc
	# By default Samba still accepts a replaced password for 60 minutes (NTLM's "old password
	# allowed period", which its simple binds honour too); tests need "the old one fails now".
	old password allowed period = 0
	# Samba's RPC endpoints default to 49152+, inside Linux's ephemeral port range (32768–60999),
	# where any outgoing connection of a test running beside the DC can hold them first.
	rpc server dynamic port range = 21490-21589
	log file = $dir/log.%m
	log level = 1
	# Keep sockets and PID files out of /run/samba, so nothing here touches a system Samba.
	pid directory = $dir/run
	ncalrpc dir = $dir/ncalrpc
	winbindd socket directory = $dir/winbindd
	ntp signd socket directory = $dir/ntp_signd
	tls enabled = yes
	tls keyfile = $dir/tls/server.key
	tls certfile = $dir/tls/server.pem
	tls cafile = $dir/tls/ca.pem
	# --- end radmfa ---
EOF
  # Drop provision's values for the keys set above (the last one in [global] would win).
  sed -i -E '/^[[:space:]]*(ldap server require strong auth|server services|old password allowed period|rpc server dynamic port range|log file|log level|pid directory|ncalrpc dir|winbindd socket directory|ntp signd socket directory|tls enabled|tls keyfile|tls certfile|tls cafile)[[:space:]]*=/d' "$conf"
  sed -i "/^\[global\]/r $extra" "$conf"
  rm -f "$extra"
  mkdir -p "$dir/run" "$dir/ncalrpc" "$dir/winbindd" "$dir/ntp_signd"
}

provision() {
  local dir=$1
  # A provision that stopped half-way leaves databases samba-tool will not overwrite.
  rm -rf "${dir:?}/etc" "$dir/private" "$dir/state" "$dir/cache" "$dir/bind-dns" "$dir/populated"
  # --host-name: the machine's hostname may be longer than NetBIOS allows, and a fixed name
  # keeps the DC's identity (dc1.example.test) the same everywhere.
  samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" --server-role=dc \
    --dns-backend=NONE --use-rfc2307 --adminpass="$ADMIN_PASS" --targetdir="$dir" \
    --host-name=dc1 --host-ip=127.0.0.1 \
    --option="interfaces=lo" --option="bind interfaces only=yes" --option="netbios name=DC1" \
    >"$dir/provision.log" 2>&1 || {
    tail -n 30 "$dir/provision.log" >&2
    die "samba-tool domain provision failed (log $dir/provision.log)"
  }
  make_certs "$dir"
  configure "$dir"
}

st() {
  # samba-tool on the DC's own sam.ldb: no network credentials needed, and safe while the DC
  # runs (ldb locks the database).
  samba-tool "$@" -s "$CONF" >>"$DIR/populate.log" 2>&1 ||
    fail_start "$DIR" "samba-tool $* failed: $(tail -n 3 "$DIR/populate.log" | tr '\n' ' ')"
}

ldap_modify() {
  ldapmodify -x -H "$URL" -o nettimeout=5 -D "$ADMIN_UPN" -w "$ADMIN_PASS" >>"$DIR/populate.log" 2>&1 ||
    fail_start "$DIR" "ldapmodify failed: $(tail -n 3 "$DIR/populate.log" | tr '\n' ' ')"
}

backdate_pwd_last_set() {
  # LDAP accepts only 0 and -1 for pwdLastSet, so an expired password cannot be made over LDAP
  # and a maxPwdAge or PSO age under one day counts as "never expires" in Samba. Instead
  # pwdLastSet is rewritten in sam.ldb with the control that skips the password_hash module;
  # with the default 42-day maxPwdAge a password set 100 days ago is expired.
  "$PY" - "$CONF" "CN=$1,CN=Users,$BASE" >>"$DIR/populate.log" 2>&1 <<'EOF' ||
import sys, time
import ldb
import samba.dsdb as dsdb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

conf, dn = sys.argv[1], sys.argv[2]
lp = LoadParm()
lp.load(conf)
db = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
# NT time: 100 ns ticks since 1601-01-01.
nt = int((time.time() - 100 * 86400) * 10**7) + 116444736000000000
m = ldb.Message(ldb.Dn(db, dn))
m["pwdLastSet"] = ldb.MessageElement(str(nt), ldb.FLAG_MOD_REPLACE, "pwdLastSet")
db.modify(m, controls=["local_oid:%s:0" % dsdb.DSDB_CONTROL_BYPASS_PASSWORD_HASH_OID])
EOF
    fail_start "$DIR" "backdating pwdLastSet of $1 failed (log $DIR/populate.log)"
}

populate() {
  local u
  : >"$DIR/populate.log"
  # Tests change a password and may change it again at once: no minimum age.
  st domain passwordsettings set --min-pwd-age=0
  # The accounts the harness binds with must not expire with a reused DIR.
  st user setexpiry Administrator --noexpiry
  st user create radmfa-svc "$SVC_PASS" --use-username-as-cn --description="radmfa service account"
  st user setexpiry radmfa-svc --noexpiry

  for u in vpn-users vpn-admins mfa-exempt contractors vpn-mfa-pilot; do
    st group add "$u"
  done
  st group addmembers vpn-users vpn-admins

  st user create alice "$USER_PASS" --use-username-as-cn --given-name=Alice --surname=Anders \
    --mail-address="alice@$DNSDOMAIN"
  st user create bob "$USER_PASS" --use-username-as-cn --given-name=Bob --surname=Baker \
    --mail-address="bob@$DNSDOMAIN"
  for u in dave frank gina hank ivan judy; do
    st user create "$u" "$USER_PASS" --use-username-as-cn --mail-address="$u@$DNSDOMAIN"
  done
  st user create erin "$USER_PASS" --use-username-as-cn --mail-address="erin@$DNSDOMAIN" \
    --must-change-at-next-login
  st group addmembers vpn-admins alice
  st group addmembers vpn-users bob
  st user disable dave

  # Gina's lockout policy applies to her only (a PSO), so wrong-password tests on other users
  # never lock them out: the domain keeps lockout threshold 0.
  st domain passwordsettings pso create radmfa-lockout 10 --account-lockout-threshold=3 \
    --account-lockout-duration=600 --reset-account-lockout-after=600 --min-pwd-age=0
  st domain passwordsettings pso apply radmfa-lockout gina

  # Attributes samba-tool has no option for. logonHours: 21 zero bytes = no hour allowed.
  # accountExpires 129737376000000000 = 2012-02-11, i.e. long past.
  ldap_modify <<EOF
dn: CN=alice,CN=Users,$BASE
changetype: modify
replace: mobile
mobile: +15551230001
-
replace: displayName
displayName: Alice Anders

dn: CN=hank,CN=Users,$BASE
changetype: modify
replace: accountExpires
accountExpires: 129737376000000000

dn: CN=ivan,CN=Users,$BASE
changetype: modify
replace: logonHours
logonHours:: AAAAAAAAAAAAAAAAAAAAAAAAAAAA

dn: CN=judy,CN=Users,$BASE
changetype: modify
replace: userWorkstations
userWorkstations: NOSUCHHOST
EOF
  backdate_pwd_last_set frank
  touch "$DIR/populated"
}

lock_gina() {
  # Lockout is a state with a duration (600 minutes), so it is checked on every start, not
  # only after provisioning. A successful bind resets the bad-password count, so the bad binds
  # come in a row; after the third Samba answers 775 to any password.
  local round i
  for round in 1 2; do
    [ "$(subcode "gina@$DNSDOMAIN" "$USER_PASS")" = 775 ] && return 0
    for i in 1 2 3; do
      ldap_bind "gina@$DNSDOMAIN" "wrong-password-$round-$i" >/dev/null
    done
  done
  [ "$(subcode "gina@$DNSDOMAIN" "$USER_PASS")" = 775 ] && return 0
  fail_start "$DIR" "gina is not locked out after 6 bad binds"
}

cmd_start() {
  [ $# -eq 1 ] || usage
  local dir=$1 t0=$SECONDS pid ok=0 summary="" u
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  DIR=$dir
  CONF=$dir/etc/smb.conf
  running "$dir" && die "a DC is already running from $dir (pid $(cat "$dir/samba.pid"))"
  check_ports_free

  ensure_packages
  [ -f "$dir/populated" ] || provision "$dir"

  # -i: foreground, logging to stdout (our file); -M single: one process, so the PID we start
  # is the whole DC. It renames itself "samba: root process": stop it by PID, never by name.
  samba -s "$CONF" -i -M single </dev/null >"$dir/samba.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/samba.pid"

  if [ -n "${SAMBA_WATCH_PID:-}" ]; then
    local watch=$SAMBA_WATCH_PID rmdir=${SAMBA_WATCH_RMDIR:-0}
    (
      while alive "$watch" && alive "$pid"; do sleep 1; done
      if ! alive "$watch"; then
        "$here/samba-ad.sh" stop "$dir" || true
        [ "$rmdir" = 1 ] && rm -rf "$dir"
      fi
    ) </dev/null >/dev/null 2>&1 &
  fi

  local deadline=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    alive "$pid" || fail_start "$dir" "samba exited during start"
    if [ "$(ldap_bind "$ADMIN_UPN" "$ADMIN_PASS")" = ok ]; then
      ok=1
      break
    fi
    sleep 0.2
  done
  [ $ok -eq 1 ] || fail_start "$dir" "no simple bind as Administrator on $URL within ${START_TIMEOUT} s"

  [ -f "$dir/populated" ] || populate
  lock_gina

  for u in alice bob dave erin frank gina hank ivan judy; do
    summary+=" $u=$(subcode "$u@$DNSDOMAIN" "$USER_PASS")"
  done
  echo "samba-ad.sh: pid $pid serving $URL and ldaps://127.0.0.1 for $BASE (dir $dir)" \
    "in $((SECONDS - t0)) s; binds:$summary"
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local dir=$1 pid i
  [ -s "$dir/samba.pid" ] || return 0
  pid="$(cat "$dir/samba.pid")"
  if alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      echo "samba-ad.sh: pid $pid did not stop within 10 s of SIGTERM; sending SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$dir/samba.pid"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  *) usage ;;
esac
