#!/usr/bin/env bash
# bench/run.sh — radmfa vs FreeRADIUS (Debian) on the same slapd, everything on loopback.
#
# One run: installs the Debian packages, starts a private slapd with 10 000 users, FreeRADIUS
# (three virtual servers: PAP+rlm_ldap, rlm_ldap+rlm_totp challenge flow, PAP on a users file)
# and radmfa, drives each with bench/loadgen at C = 1, 8, 32, 64 (each run at most BENCH_N flows
# and BENCH_D seconds; BENCH_ROUNDS rounds, the report keeping each row's best); then the scale
# stage: radmfa's second leg at C = 32 with 10 000 (baseline), 100 000 and 1 000 000 users enrolled
# in its store, radmfa restarted for each; and writes bench/results.md. Everything it starts is
# stopped on exit. Working files go to bench/.work/ (git-ignored). About 8 minutes on 2 cores.
#
# Knobs (environment): BENCH_N (20000), BENCH_D (8s), BENCH_C ("1 8 32 64"), BENCH_ROUNDS (2),
# BENCH_USERS (10000), BENCH_SCALE ("100000 1000000": enrolled users in radmfa's store for the
# scale stage, each >= BENCH_USERS; BENCH_USERS itself is always measured as the baseline;
# "" skips the stage),
# BENCH_FR_THREADS (16), BENCH_RADMFA_POOL (16), BENCH_PORT_BASE (18120: radmfa, +1..+3
# FreeRADIUS), BENCH_LDAP_PORT (38900, and +1 for LDAPS), BENCH_OUT (bench/results.md),
# BENCH_RADMFA_BIN (use this radmfa binary instead of building ./cmd/radmfa).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
W="$here/.work"

N=${BENCH_N:-20000}
D=${BENCH_D:-8s}
CS=${BENCH_C:-"1 8 32 64"}
ROUNDS=${BENCH_ROUNDS:-2}
USERS=${BENCH_USERS:-10000}
FR_THREADS=${BENCH_FR_THREADS:-16}
RADMFA_POOL=${BENCH_RADMFA_POOL:-16}
PORT_BASE=${BENCH_PORT_BASE:-18120}
LDAP_PORT=${BENCH_LDAP_PORT:-38900}
OUT=${BENCH_OUT:-$here/results.md}
SCALE=${BENCH_SCALE-"100000 1000000"}
SCALE_C=32 # the targets' concurrency
SECRET="bench-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

PORT_RADMFA=$PORT_BASE
PORT_FR_LDAP=$((PORT_BASE + 1))
PORT_FR_TOTP=$((PORT_BASE + 2))
PORT_FR_FILES=$((PORT_BASE + 3))

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Scale stage sizes, checked now rather than after the rounds: ascending, the baseline first
# (the store only grows: prep enroll -extra never removes a filler user).
SCALE_SIZES=""
if [ -n "${SCALE// /}" ]; then
  for s in $SCALE; do
    case $s in '' | *[!0-9]*) die "BENCH_SCALE: \"$s\" is not a number of users" ;; esac
    [ "$s" -ge "$USERS" ] || die "BENCH_SCALE: $s is below BENCH_USERS ($USERS)"
  done
  SCALE_SIZES=$(printf '%s\n' "$USERS" $SCALE | sort -n -u | tr '\n' ' ')
fi

# ---- cleanup: stop exactly the processes this script started -----------------------------

FR_PID=""
RADMFA_PID=""
SLAPD_STARTED=0

stop_pid() { # PID NAME: TERM, wait up to 15 s, then KILL
  local pid=$1 name=$2
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) did not stop; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$RADMFA_PID" radmfa
  stop_pid "$FR_PID" freeradius
  if [ "$SLAPD_STARTED" -eq 1 ]; then
    "$root/scripts/slapd.sh" stop "$W/slapd" >/dev/null 2>&1 || true
  fi
  [ $rc -eq 0 ] || log "failed (exit $rc); logs are in $W/"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. packages, tools, work directory ---------------------------------------------------

log "installing packages (idempotent)"
"$root/scripts/deps.sh" slapd ldap-utils freeradius freeradius-ldap freeradius-utils
command -v go >/dev/null || die "go is not installed"

port_busy() { # PROTO PORT
  local flag=-ulnH
  [ "$1" = tcp ] && flag=-tlnH
  ss $flag "sport = :$2" 2>/dev/null | grep -q .
}
for p in $PORT_RADMFA $PORT_FR_LDAP $PORT_FR_TOTP $PORT_FR_FILES; do
  port_busy udp "$p" && die "UDP port $p is in use (set BENCH_PORT_BASE)"
done
for p in $LDAP_PORT $((LDAP_PORT + 1)); do
  port_busy tcp "$p" && die "TCP port $p is in use (set BENCH_LDAP_PORT)"
done

# A previous run that was killed hard may have left its slapd behind: stop it by its pid file.
if [ -s "$W/slapd/slapd.pid" ]; then
  "$root/scripts/slapd.sh" stop "$W/slapd" >/dev/null 2>&1 || true
fi
rm -rf "$W"
mkdir -p "$W/bin" "$W/radmfa" "$W/freeradius/raddb/mods-enabled" "$W/freeradius/raddb/sites-enabled" \
  "$W/freeradius/log" "$W/freeradius/run"

log "building radmfa, loadgen, prep, report"
(
  cd "$root"
  if [ -n "${BENCH_RADMFA_BIN:-}" ]; then
    cp "$BENCH_RADMFA_BIN" "$W/bin/radmfa"
  else
    go build -o "$W/bin/radmfa" ./cmd/radmfa
  fi
  go build -o "$W/bin/loadgen" ./bench/loadgen
  go build -o "$W/bin/prep" ./bench/prep
  go build -o "$W/bin/report" ./bench/report
)

# ---- 2. directory ------------------------------------------------------------------------

log "generating $USERS users"
"$W/bin/prep" data -users "$USERS" -ldif "$W/users.ldif" -users-file "$W/freeradius/raddb/bench-users"
log "starting slapd on 127.0.0.1:$LDAP_PORT and loading the users"
SLAPD_STARTED=1
SLAPD_WATCH_PID=$$ "$root/scripts/slapd.sh" start "$W/slapd" "$LDAP_PORT" "$W/users.ldif" >&2
SLAPD_PID=$(cat "$W/slapd/slapd.pid")
n=$(ldapsearch -x -LLL -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,dc=example,dc=test -w admin \
  -b ou=people,dc=example,dc=test -z 0 '(uid=user*)' dn | grep -c '^dn:' || true)
[ "$n" -eq "$USERS" ] || die "slapd holds $n bench users, want $USERS"

# ---- 3. FreeRADIUS -------------------------------------------------------------------------

FRW="$W/freeradius"
render() { # FILE: fill in the placeholders
  sed -e "s|@WORK@|$FRW|g" -e "s|@THREADS@|$FR_THREADS|g" -e "s|@SECRET@|$SECRET|g" \
    -e "s|@PORT_LDAP@|$PORT_FR_LDAP|g" -e "s|@PORT_TOTP@|$PORT_FR_TOTP|g" \
    -e "s|@PORT_FILES@|$PORT_FR_FILES|g" -e "s|@LDAP_PORT@|$LDAP_PORT|g" "$1"
}
T="$here/freeradius"
render "$T/radiusd.conf" >"$FRW/raddb/radiusd.conf"
render "$T/clients.conf" >"$FRW/raddb/clients.conf"
cp /etc/freeradius/3.0/dictionary "$FRW/raddb/dictionary"
for m in always pap totp files; do render "$T/mods-enabled/$m" >"$FRW/raddb/mods-enabled/$m"; done
render "$T/sites-enabled/bench" >"$FRW/raddb/sites-enabled/bench"
# Two rlm_ldap instances from one template: PAP maps no attribute, TOTP maps the secret.
render "$T/ldap.tmpl" | sed 's|@INSTANCE@|ldap_pap|' | awk '$0 != "@UPDATE@"' >"$FRW/raddb/mods-enabled/ldap_pap"
render "$T/ldap.tmpl" | sed 's|@INSTANCE@|ldap_totp|' |
  awk '$0 == "@UPDATE@" { print "\t\tcontrol:TOTP-Secret := '\''description'\''"; next } { print }' \
    >"$FRW/raddb/mods-enabled/ldap_totp"
: >"$FRW/raddb/bench-users-acct"
chmod -R go-w "$FRW/raddb"
freeradius -C -d "$FRW/raddb" >"$FRW/log/check.log" 2>&1 || { cat "$FRW/log/check.log" "$FRW/log/radius.log" >&2 || true; die "FreeRADIUS config check failed"; }

log "starting FreeRADIUS on udp 127.0.0.1:$PORT_FR_LDAP-$PORT_FR_FILES"
freeradius -f -d "$FRW/raddb" </dev/null >"$FRW/log/stdout.log" 2>&1 &
FR_PID=$!
ok=0
for _ in $(seq 1 100); do
  kill -0 "$FR_PID" 2>/dev/null || break
  if grep -q "Ready to process requests" "$FRW/log/radius.log" 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
[ $ok -eq 1 ] || { tail -n 30 "$FRW/log/radius.log" "$FRW/log/stdout.log" >&2 || true; die "FreeRADIUS did not start"; }

# ---- 4. radmfa ----------------------------------------------------------------------------

RW="$W/radmfa"
sed -e "s|@PORT@|$PORT_RADMFA|" -e "s|@SECRET@|$SECRET|" -e "s|@LDAP_PORT@|$LDAP_PORT|" \
  -e "s|@LDAP_POOL@|$RADMFA_POOL|" "$here/radmfa.yaml.tmpl" >"$RW/radmfa.yaml"
# enroll [-extra N]: (re-)enrol the bench users; -extra N also makes sure fillers 1…N are there.
enroll() { "$W/bin/prep" enroll -users "$USERS" -dsn "$RW/radmfa.db" -key "$RW/radmfa.key" "$@" 2>>"$RW/enroll.log"; }
log "enrolling $USERS users in radmfa's store"
enroll
"$W/bin/radmfa" config check --config "$RW/radmfa.yaml" >&2
RADMFA_LOG=""
start_radmfa() { # LOGFILE: start radmfa serve, wait for it to listen; sets RADMFA_PID
  RADMFA_LOG=$1
  log "starting radmfa on udp 127.0.0.1:$PORT_RADMFA"
  "$W/bin/radmfa" serve --config "$RW/radmfa.yaml" </dev/null >"$RADMFA_LOG" 2>&1 &
  RADMFA_PID=$!
  local ok=0
  for _ in $(seq 1 300); do
    kill -0 "$RADMFA_PID" 2>/dev/null || break
    if grep -q '"radmfa serving"' "$RADMFA_LOG" 2>/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok -eq 1 ] || { tail -n 30 "$RADMFA_LOG" >&2 || true; die "radmfa did not start"; }
}
start_radmfa "$RW/radmfa.log"

# ---- 5. machine facts ---------------------------------------------------------------------

{
  echo "date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "CPU: $(awk -F: '/^model name/ { sub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo)"
  echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "OS: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "slapd: $(/usr/sbin/slapd -VV 2>&1 | sed -n 's/.*\(slapd [^ ]*\).*/\1/p' | head -n1)"
  echo "freeradius: $(freeradius -v 2>/dev/null | sed -n 's/.*\(Version [^,]*\),.*/\1/p' | head -n1)"
  echo "go: $(go version | awk '{ print $3 }')"
  echo "radmfa: $(cd "$root" && git describe --always --dirty 2>/dev/null || echo unknown)"
  echo "users: $USERS ({SSHA} userPassword)"
  echo "runs: C in {$CS}, each at most $N flows and $D; $ROUNDS rounds, best kept"
  echo "FreeRADIUS threads / rlm_ldap pool: $FR_THREADS / $FR_THREADS"
  echo "radmfa LDAP pool_size: $RADMFA_POOL"
  if [ -n "$SCALE_SIZES" ]; then
    echo "scale stage: enrolled users {$(echo $SCALE_SIZES)}, second leg at C = $SCALE_C, radmfa restarted per size"
  else
    echo "scale stage: skipped (BENCH_SCALE empty)"
  fi
} >"$W/facts.txt"

# ---- 6. runs -------------------------------------------------------------------------------

RES="$W/results.jsonl"
: >"$RES"
lg() { # every run bounded: loadgen's own -n/-d, plus a hard stop
  timeout --kill-after=10s 180s "$W/bin/loadgen" -n "$N" -d "$D" -users "$USERS" -out "$RES" "$@" >&2
}
RAD=(-secret "$SECRET" -clk-tck "$(getconf CLK_TCK)")
FR=(-pid "freeradius=$FR_PID" -pid "slapd=$SLAPD_PID")
RM=(-pid "radmfa=$RADMFA_PID" -pid "slapd=$SLAPD_PID")
LDAP=(-ldap "ldap://127.0.0.1:$LDAP_PORT" -pid "slapd=$SLAPD_PID" -clk-tck "$(getconf CLK_TCK)")

alive() {
  kill -0 "$FR_PID" 2>/dev/null || die "FreeRADIUS exited; see $FRW/log/radius.log"
  kill -0 "$RADMFA_PID" 2>/dev/null || die "radmfa exited; see $RADMFA_LOG"
  kill -0 "$SLAPD_PID" 2>/dev/null || die "slapd exited; see $W/slapd/slapd.log"
}

# Rounds and concurrency levels interleave the systems, so a disturbance on the machine (other
# processes: see the report's "other processes" column) does not hit one system's rows only.
for round in $(seq 1 "$ROUNDS"); do
for c in $CS; do
  alive
  log "round $round, C=$c: raw LDAP"
  lg -system ldap-raw -mode ldapbind -c "$c" "${LDAP[@]}"
  lg -system ldap-raw -mode ldapsearchbind -c "$c" "${LDAP[@]}"

  alive
  log "round $round, C=$c: FreeRADIUS"
  lg -system freeradius-files -mode pap -c "$c" -addr "127.0.0.1:$PORT_FR_FILES" "${RAD[@]}" "${FR[@]}"
  lg -system freeradius-ldap -mode pap -c "$c" -addr "127.0.0.1:$PORT_FR_LDAP" "${RAD[@]}" "${FR[@]}"
  lg -system freeradius-totp -mode twoleg -c "$c" -addr "127.0.0.1:$PORT_FR_TOTP" \
    -totp-skew 0 -totp-replay=false "${RAD[@]}" "${FR[@]}"
  lg -system freeradius-totp -mode secondleg -c "$c" -addr "127.0.0.1:$PORT_FR_TOTP" \
    -totp-skew 0 -totp-replay=false "${RAD[@]}" "${FR[@]}"

  alive
  log "round $round, C=$c: radmfa"
  lg -system radmfa -mode pap -c "$c" -addr "127.0.0.1:$PORT_RADMFA" "${RAD[@]}" "${RM[@]}"
  enroll # fresh used-step and drift for every user: see codePicker in loadgen/totp.go
  lg -system radmfa -mode twoleg -c "$c" -addr "127.0.0.1:$PORT_RADMFA" \
    -totp-skew 1 -totp-replay=true "${RAD[@]}" "${RM[@]}"
  enroll
  lg -system radmfa -mode secondleg -c "$c" -addr "127.0.0.1:$PORT_RADMFA" \
    -totp-skew 1 -totp-replay=true "${RAD[@]}" "${RM[@]}"
done
done
alive

# ---- 7. scale: enrolled users in radmfa's store --------------------------------------------

# For each size S, smallest (the baseline, BENCH_USERS) first: radmfa stopped; the store grown to
# S enrolled users, the USERS directory users plus S - USERS filler users that exist only in the
# store (prep enroll -extra: adds only the missing ones, and re-enrols the bench users, so their
# TOTP steps are fresh); radmfa restarted on it, so each size's peak RSS is its own process's;
# then the second leg alone at C = 32 as in the rounds above — sign-ins still go to the
# directory's users, only the store is larger.
for s in $SCALE_SIZES; do
  alive
  stop_pid "$RADMFA_PID" radmfa
  RADMFA_PID=""
  log "scale: growing radmfa's store to $s enrolled users"
  t0=$(date +%s.%N)
  enroll -extra $((s - USERS))
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  echo "store grown to $s enrolled users (prep enroll -extra): $took s" >>"$W/facts.txt"
  start_radmfa "$RW/radmfa-scale-$s.log"
  RM=(-pid "radmfa=$RADMFA_PID" -pid "slapd=$SLAPD_PID")
  for round in $(seq 1 "$ROUNDS"); do
    [ "$round" -eq 1 ] || enroll
    alive
    log "scale: $s enrolled users, round $round: radmfa second leg, C=$SCALE_C"
    lg -system "radmfa-scale-$s" -mode secondleg -c "$SCALE_C" -addr "127.0.0.1:$PORT_RADMFA" \
      -totp-skew 1 -totp-replay=true "${RAD[@]}" "${RM[@]}"
  done
done
alive

# ---- 8. report -----------------------------------------------------------------------------

echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$W/facts.txt"
"$W/bin/report" -results "$RES" -facts "$W/facts.txt" -out "$OUT"
log "wrote $OUT"
