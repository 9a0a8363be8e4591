#!/usr/bin/env bash
# The whole test suite: installs what the tests need, starts the Keystone + Heat test
# bed, then runs every test target.
# Usage: tests/run.sh [extra cargo test arguments]
# DISCO_TESTBED=running uses a test bed already started with tests/testbed/openstack.sh up.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: curl runs the README's walk-through; gcc builds the
# bundled SQLite; shellcheck checks every composed node script; the local provider's
# clusters need Java (Spark), Python's venv (components install from PyPI) and openssl
# (each local Dask cluster's TLS certificate).
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The dashboard's end-to-end test drives Debian's Chromium over WebDriver.
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
# The store's tests run on PostgreSQL too: Debian's server, started below for this run.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # Debian's maintainer scripts would start a system-wide PostgreSQL on port 5432 (its
  # "main" cluster): the tests start their own, so none is started here.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  installed=0
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" && installed=1
  [ "$made_policy" = 0 ] || $sudo rm -f /usr/sbin/policy-rc.d
  [ "$installed" = 1 ] || { echo "tests/run.sh: apt-get install ${missing[*]} failed" >&2; exit 1; }
  # The install made Debian's "main" cluster, which would start at the next boot: it
  # holds nothing yet, so it goes.
  if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | while read -r version name _; do
      if [ "$name" = main ]; then $sudo pg_dropcluster --stop "$version" main || true; fi
    done
  fi
fi

# Build first, so the test bed's services do not compete with the compiler for the
# machine's cores and memory.
cargo test --locked --all-targets --no-run

# The real Keystone and Heat the OpenStack tests talk to (tests/testbed/README.md):
# installed on first use, started fresh, stopped whatever happens.
# With its node hosts (DISCO_TESTBED_NODES=1, the default here; root): Heat's stand-in
# servers boot as Debian 12 containers that run DISCO's node scripts (the vm_nodes tests).
if [ "${DISCO_TESTBED:-start}" = start ]; then
  export DISCO_TESTBED_NODES=${DISCO_TESTBED_NODES:-1}
  trap 'tests/testbed/openstack.sh down >/dev/null 2>&1 || true' EXIT
  tests/testbed/openstack.sh up
fi
eval "$(tests/testbed/openstack.sh env)"

# A PostgreSQL server of this run's own for the store's tests (each makes and drops its
# database in it): in a temporary directory, on a free loopback port (not 5432), stopped
# and removed on exit whatever happens, after which the test bed's trap runs as before.
pg_initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1 || true)
[ -n "$pg_initdb" ] || { echo "tests/run.sh: no PostgreSQL server (initdb) under /usr/lib/postgresql" >&2; exit 1; }
pg_bin=$(dirname "$pg_initdb")
pg_dir=$(mktemp -d /tmp/disco-test-postgres.XXXXXX)
chmod 755 "$pg_dir"
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_as=()
if [ "$(id -u)" -eq 0 ]; then
  # The server refuses to run as root.
  chown postgres "$pg_dir"
  pg_as=(runuser -u postgres --)
fi
bed_trap=()
eval "bed_trap=( $(trap -p EXIT) )"
trap '"${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pg_dir"; eval "${bed_trap[2]:-}"' EXIT
# A password of this run's (not trust: the local provider's cluster users share the
# machine, and the tests' role is a superuser).
pg_password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
printf '%s\n' "$pg_password" > "$pg_dir/pwfile"
chmod 600 "$pg_dir/pwfile"
[ "$(id -u)" -ne 0 ] || chown postgres "$pg_dir/pwfile"
if ! "${pg_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" --auth=scram-sha-256 --pwfile="$pg_dir/pwfile" \
     -U postgres >"$pg_dir/initdb.log" 2>&1 \
   || ! "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
     -o "-p $pg_port -k '$pg_dir' -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null; then
  echo "tests/run.sh: the tests' PostgreSQL did not start:" >&2
  cat "$pg_dir/initdb.log" "$pg_dir/server.log" >&2 2>/dev/null || true
  exit 1
fi
rm -f "$pg_dir/pwfile"
export DISCO_TEST_POSTGRES_URL="postgres://postgres:$pg_password@127.0.0.1:$pg_port/postgres"

status=0
cargo test --locked --all-targets "$@" || status=$?
if [ "$status" -ne 0 ] && [ -d "${DISCO_TESTBED_DIR:-/var/tmp/disco-testbed}/run/logs" ]; then
  # What the cloud's services refused or failed, for a failure that involved them
  # (the logs go with the test bed's next `up`).
  echo "--- the test bed's 4xx/5xx answers and errors:"
  logs=${DISCO_TESTBED_DIR:-/var/tmp/disco-testbed}/run/logs
  # (Heat's refused trust deletions at stack delete are expected here.)
  grep -h "HTTP/1.1 [45]" "$logs"/*-uwsgi.log 2>/dev/null | grep -v "OS-TRUST/trusts" | tail -n 40 || true
  # The first line of each error (not its traceback), but for Heat's trust deletions.
  grep -h " \(ERROR\|WARNING\) [a-z_.]* \[[^]]*req-" "$logs"/*.log 2>/dev/null |
    grep -v "Delegated tokens cannot manage trusts\|Truncating\|Deprecated policy\|No cells are configured\|Unique keys not in sort" |
    tail -n 40 || true
fi
exit "$status"
