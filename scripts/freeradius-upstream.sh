#!/usr/bin/env bash
# Runs a private Debian FreeRADIUS as the "existing RADIUS server" radmfa forwards passwords to
# (primary: radius): PAP against a users file, nothing else. Its own configuration directory,
# one loopback UDP port, no system FreeRADIUS configuration read or changed.
#
#   scripts/freeradius-upstream.sh start DIR PORT SECRET [USERS_FILE]
#   scripts/freeradius-upstream.sh stop DIR
#
# start listens on 127.0.0.1:PORT (authentication only) for one client, 127.0.0.1 with SECRET,
# and returns once FreeRADIUS is ready. Users come from USERS_FILE (FreeRADIUS "users" syntax,
# copied into DIR) or, without it, the demo users:
#   alice / alice-upstream-pass   (reply Class = "upstream-alice")
#   bob   / bob-upstream-pass
# reject_delay is 0, so a wrong password is answered at once, as radmfa does.
#
# start writes DIR/freeradius.pid and DIR/log/radius.log. With FR_WATCH_PID set, FreeRADIUS is
# also stopped when that process exits, so a killed test run leaves no server behind.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "freeradius-upstream.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start DIR PORT SECRET [USERS_FILE] | stop DIR"; }

ensure_packages() {
  # Serialised: parallel test packages must not run apt twice.
  if command -v flock >/dev/null; then
    flock /tmp/radmfa-deps.lock "$here/deps.sh" freeradius freeradius-utils
  else
    "$here/deps.sh" freeradius freeradius-utils
  fi
}

running() { [ -s "$1/freeradius.pid" ] && kill -0 "$(cat "$1/freeradius.pid")" 2>/dev/null; }

fail_start() {
  local dir=$1 msg=$2
  echo "freeradius-upstream.sh: $msg; log ($dir/log):" >&2
  tail -n 40 "$dir/log/radius.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
  cmd_stop "$dir" >/dev/null 2>&1 || true
  exit 1
}

write_conf() {
  local dir=$1 port=$2 secret=$3 raddb=$1/raddb
  # The secret goes into a double-quoted FreeRADIUS string: refuse what would need escaping.
  [[ "$secret" =~ ^[A-Za-z0-9._:@%+=-]+$ ]] || die "SECRET may only hold letters, digits and ._:@%+=-"
  mkdir -p "$raddb" "$dir/log" "$dir/run"
  # FreeRADIUS reads the local dictionary from its configuration directory; Debian's includes
  # the full one from /usr/share/freeradius.
  cp /etc/freeradius/3.0/dictionary "$raddb/dictionary"
  cat >"$raddb/radiusd.conf" <<EOF
# Written by scripts/freeradius-upstream.sh: the smallest FreeRADIUS 3.2 that answers PAP from
# a users file, adapted from Debian's /etc/freeradius/3.0/radiusd.conf.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = \${exec_prefix}/sbin
logdir = $dir/log
raddbdir = $raddb
radacctdir = \${logdir}/radacct
name = freeradius
confdir = \${raddbdir}
modconfdir = \${confdir}/mods-config
certdir = \${confdir}/certs
cadir = \${confdir}/certs
run_dir = $dir/run
db_dir = \${raddbdir}
libdir = /usr/lib/freeradius
pidfile = \${run_dir}/\${name}.pid

max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no

log {
	destination = files
	colourise = no
	file = \${logdir}/radius.log
	stripped_names = no
	# One line per Accept/Reject, to read when a test fails.
	auth = yes
	auth_badpass = no
	auth_goodpass = no
}

security {
	allow_core_dumps = no
	max_attributes = 200
	# Default 1 s: a wrong password would be answered a second late.
	reject_delay = 0
	status_server = no
}

proxy_requests = no

client radmfa {
	ipaddr = 127.0.0.1
	secret = "$secret"
	# radmfa signs what it forwards (BlastRADIUS, CVE-2024-3596).
	require_message_authenticator = yes
	nas_type = other
}

thread pool {
	start_servers = 2
	max_servers = 4
	min_spare_servers = 1
	max_spare_servers = 4
	max_requests_per_server = 0
}

modules {
	pap {
	}
	files {
		filename = \${confdir}/users
	}
}

instantiate {
}

server upstream {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $port
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
EOF
}

write_demo_users() {
  cat >"$1" <<'EOF'
alice	Cleartext-Password := "alice-upstream-pass"
	Class := "upstream-alice"

bob	Cleartext-Password := "bob-upstream-pass"
EOF
}

cmd_start() {
  [ $# -eq 3 ] || [ $# -eq 4 ] || usage
  local dir=$1 port=$2 secret=$3 users=${4:-}
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] && [ "$port" -lt 65536 ] || die "bad port: $port"
  [ -z "$users" ] || [ -r "$users" ] || die "cannot read users file $users"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  running "$dir" && die "FreeRADIUS already running from $dir (pid $(cat "$dir/freeradius.pid"))"

  ensure_packages
  write_conf "$dir" "$port" "$secret"
  if [ -n "$users" ]; then
    cp "$users" "$dir/raddb/users"
  else
    write_demo_users "$dir/raddb/users"
  fi
  # FreeRADIUS refuses configuration files that others may write.
  chmod -R go-w "$dir/raddb"
  freeradius -C -d "$dir/raddb" >"$dir/log/check.log" 2>&1 ||
    { cat "$dir/log/check.log" >&2; fail_start "$dir" "configuration check failed"; }

  # -f: foreground, so the PID is ours to stop (never by name: other FreeRADIUS may run).
  freeradius -f -d "$dir/raddb" </dev/null >"$dir/log/stdout.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/freeradius.pid"

  if [ -n "${FR_WATCH_PID:-}" ]; then
    local watch=$FR_WATCH_PID
    ( while kill -0 "$watch" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
      kill "$pid" 2>/dev/null || true ) </dev/null >/dev/null 2>&1 &
  fi

  local ok=0
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || fail_start "$dir" "FreeRADIUS exited during start"
    if grep -q "Ready to process requests" "$dir/log/radius.log" 2>/dev/null; then
      ok=1
      break
    fi
    sleep 0.1
  done
  [ $ok -eq 1 ] || fail_start "$dir" "FreeRADIUS was not ready within 15 s"
  echo "freeradius-upstream.sh: pid $pid serving udp 127.0.0.1:$port (dir $dir)"
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local dir=$1 pid
  [ -s "$dir/freeradius.pid" ] || return 0
  pid="$(cat "$dir/freeradius.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/freeradius.pid"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  *) usage ;;
esac
