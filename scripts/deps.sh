#!/usr/bin/env bash
# Installs the Debian packages radmfa's run, test and bench targets need. Idempotent: a package
# that is already there is not fetched again. Services that Debian would start on install are
# kept from starting (the harness starts its own instances on loopback with private data dirs).
set -euo pipefail

want=("$@")
if [ ${#want[@]} -eq 0 ]; then
  want=(slapd ldap-utils freeradius-utils)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# policy-rc.d exit 101 = "do not start services from maintainer scripts".
prc=/usr/sbin/policy-rc.d
created_prc=0
if [ ! -e "$prc" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$prc" >/dev/null
  $SUDO chmod 755 "$prc"
  created_prc=1
fi
trap '[ $created_prc -eq 1 ] && $SUDO rm -f "$prc"' EXIT

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/radmfa-apt.log 2>&1; then
  $SUDO apt-get update -q >>/tmp/radmfa-apt.log 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/radmfa-apt.log 2>&1 || {
    tail -n 30 /tmp/radmfa-apt.log >&2; exit 1; }
fi
