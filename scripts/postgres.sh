#!/usr/bin/env bash
# Runs a private PostgreSQL cluster for tests and demos: its own data directory, a loopback
# port, and a unix socket inside that directory. No system cluster is read or changed.
#
#   scripts/postgres.sh start DIR PORT   cluster in DIR/data, listening on 127.0.0.1:PORT
#   scripts/postgres.sh stop DIR
#
# start creates the cluster on first use (DIR/data, log in DIR/postgres.log) and returns once
# pg_isready answers. The login role "radmfa" (not a superuser; may create databases) owns the
# database "radmfa"; it connects without a password from 127.0.0.1 (trust, loopback only):
#   postgres://radmfa@127.0.0.1:PORT/radmfa?sslmode=disable
# fsync stays on (tests check durability) and synchronous_commit keeps its default.
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the "postgres" system
# user, DIR is chowned to it, and DIR's parent directories must be searchable by it.
# With PG_WATCH_PID set, the cluster is stopped when that process exits (and DIR removed too
# with PG_WATCH_RMDIR=1), so a killed test run leaves no server behind.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OWNER=postgres

die() { echo "postgres.sh: $*" >&2; exit 1; }

usage() { die "usage: $0 start DIR PORT | stop DIR"; }

ensure_packages() {
  # Serialised: parallel test packages may all start a cluster, and apt must not run twice.
  if command -v flock >/dev/null; then
    flock /tmp/radmfa-deps.lock "$here/deps.sh" postgresql
  else
    "$here/deps.sh" postgresql
  fi
}

# pg_bindir prints the newest installed server's bin directory.
pg_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] || die "no PostgreSQL server under /usr/lib/postgresql"
  echo "$d"
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_owner runs a command as the cluster's owner, from a directory that owner can enter.
as_owner() {
  if is_root; then
    (cd / && runuser -u "$OWNER" -- "$@")
  else
    (cd / && "$@")
  fi
}

running() {
  local dir=$1 bin=$2
  [ -s "$dir/data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

fail_start() {
  local dir=$1 msg=$2
  echo "postgres.sh: $msg; server log ($dir/postgres.log):" >&2
  tail -n 40 "$dir/postgres.log" >&2 2>/dev/null || true
  exit 1
}

init_cluster() {
  local dir=$1 bin=$2
  rm -rf "${dir:?}/data"
  # The bootstrap superuser is "postgres"; tests use the unprivileged "radmfa" role below.
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  cat >"$dir/data/pg_hba.conf" <<EOF
# Unix socket (in $dir, reachable only by its owner): the superuser, for setup.
local all all trust
# Loopback TCP: only the test role.
host all radmfa 127.0.0.1/32 trust
EOF
  echo "include 'radmfa.conf'" >>"$dir/data/postgresql.conf"
  is_root && chown "$OWNER:" "$dir/data/pg_hba.conf" "$dir/data/postgresql.conf"
  return 0
}

# write_conf is rewritten on every start, so a restart may move the port.
write_conf() {
  local dir=$1 port=$2
  cat >"$dir/data/radmfa.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = on
max_connections = 200
shared_buffers = 32MB
logging_collector = off
EOF
  is_root && chown "$OWNER:" "$dir/data/radmfa.conf"
  return 0
}

create_role() {
  local dir=$1 port=$2 bin=$3
  as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
    -c "CREATE ROLE radmfa LOGIN CREATEDB" -c "CREATE DATABASE radmfa OWNER radmfa" \
    >>"$dir/postgres.log" 2>&1 || fail_start "$dir" "creating role and database radmfa failed"
}

watch_parent() {
  local dir=$1 bin=$2 watch=$3 pm
  pm="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
  [ -n "$pm" ] || return 0
  (
    while kill -0 "$watch" 2>/dev/null; do
      # Stopped (or restarted, with its own watcher) by someone else: nothing left to do.
      kill -0 "$pm" 2>/dev/null || exit 0
      sleep 1
    done
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop || true
    [ "${PG_WATCH_RMDIR:-}" = 1 ] && rm -rf "$dir"
  ) </dev/null >/dev/null 2>&1 &
}

cmd_start() {
  [ $# -eq 2 ] || usage
  local dir=$1 port=$2 bin fresh=0
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] && [ "$port" -lt 65536 ] || die "bad port: $port"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  ensure_packages
  bin="$(pg_bindir)"
  running "$dir" "$bin" && die "PostgreSQL already running in $dir"

  if is_root; then
    chown "$OWNER:" "$dir"
    chmod 700 "$dir"
    runuser -u "$OWNER" -- test -w "$dir" ||
      die "user $OWNER cannot write $dir: its parent directories must be searchable by $OWNER"
  fi
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    init_cluster "$dir" "$bin"
    fresh=1
  fi
  write_conf "$dir" "$port"
  : >>"$dir/postgres.log"
  is_root && chown "$OWNER:" "$dir/postgres.log"

  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 -s start \
    </dev/null >/dev/null 2>>"$dir/postgres.log" || fail_start "$dir" "pg_ctl start failed"
  local ok=0
  for _ in $(seq 1 100); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  [ $ok -eq 1 ] || fail_start "$dir" "the server did not answer on 127.0.0.1:$port within 10 s"
  [ $fresh -eq 1 ] && create_role "$dir" "$port" "$bin"
  [ -n "${PG_WATCH_PID:-}" ] && watch_parent "$dir" "$bin" "$PG_WATCH_PID"
  echo "postgres.sh: serving postgres://radmfa@127.0.0.1:$port/radmfa (data $dir/data)"
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local dir=$1 bin
  [ -s "$dir/data/PG_VERSION" ] || return 0
  dir="$(cd "$dir" && pwd)"
  bin="$(pg_bindir)"
  running "$dir" "$bin" || return 0
  # fast: roll back open transactions and disconnect clients, then a clean shutdown.
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 -s stop >/dev/null 2>>"$dir/postgres.log" ||
    fail_start "$dir" "pg_ctl stop failed"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  *) usage ;;
esac
