#!/usr/bin/env bash
# A real OpenStack Keystone + Glance + Nova API + Heat on loopback, for DISCO's integration tests.
#
#   tests/testbed/openstack.sh install   # apt + pip venv, once (seconds when already there)
#   tests/testbed/openstack.sh up        # fresh state; MariaDB, RabbitMQ, Keystone, Glance, Nova API,
#                                        # Heat, fake Neutron
#   tests/testbed/openstack.sh env [demo|other|admin|disco]   # export OS_* lines
#   tests/testbed/openstack.sh status    # which services answer (exit 1 if any does not)
#   tests/testbed/openstack.sh down      # stop exactly what `up` started, by recorded PID
#   tests/testbed/openstack.sh smoke [TEMPLATE]  # end-to-end proof over REST (see cmd_smoke)
#   tests/testbed/openstack.sh nodes-image|nodes-smoke|nodes-heat-smoke  # node hosts (nodes.sh, node_host.py)
#
# Keystone http://127.0.0.1:5000/v3, Heat http://127.0.0.1:8004/v1/<project_id>,
# Glance http://127.0.0.1:9292 (public images), Nova API http://127.0.0.1:8774/v2.1 (public
# flavors, key pairs; no compute, conductor or scheduler), fake Neutron :9696.
# Everything listens on 127.0.0.1 only; MariaDB has no TCP port at all (unix socket).
# See README.md beside this file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_DIR=${DISCO_TESTBED_DIR:-/var/tmp/disco-testbed}
VENV=$TB_DIR/venv                 # kept across runs (install)
RUN=$TB_DIR/run                   # runtime state: wiped by every `up`
PIDDIR=$RUN/pids
LOGS=$RUN/logs
PY=${DISCO_TESTBED_PYTHON:-/usr/bin/python3}   # Debian's python3 (matches python3-dev)

KS_PORT=${DISCO_TESTBED_KEYSTONE_PORT:-5000}
HEAT_PORT=${DISCO_TESTBED_HEAT_PORT:-8004}
NOVA_PORT=${DISCO_TESTBED_NOVA_PORT:-8774}         # real nova-api (flavors, key pairs)
GLANCE_PORT=${DISCO_TESTBED_GLANCE_PORT:-9292}     # real glance-api
NEUTRON_PORT=9696                                   # fake, fixed in fake_cloud.py
AMQP_PORT=${DISCO_TESTBED_AMQP_PORT:-35672}         # not 5672: stay clear of a system RabbitMQ
EPMD_PORT=${DISCO_TESTBED_EPMD_PORT:-34369}
DIST_PORT=${DISCO_TESTBED_DIST_PORT:-35673}
UP_TIMEOUT=${DISCO_TESTBED_UP_TIMEOUT:-240}          # seconds for the whole of `up`
GRACE=${DISCO_TESTBED_GRACE:-10}                     # seconds between TERM and KILL in `down`
ENGINE_WORKERS=${DISCO_TESTBED_HEAT_WORKERS:-1}
SETUP_NICE=${DISCO_TESTBED_SETUP_NICE:-5}   # glance/nova migrations yield to Keystone's, which `up` waits on first

# One OpenStack series (2026.2): keystone 30, heat 27, glance 33, nova 34.
KEYSTONE_VERSION=30.0.0
HEAT_VERSION=27.0.1
GLANCE_VERSION=33.0.0
NOVA_VERSION=34.0.0
PIP_PKGS=("keystone==$KEYSTONE_VERSION" "openstack-heat==$HEAT_VERSION" "glance==$GLANCE_VERSION"
          "nova==$NOVA_VERSION" PyMySQL)   # uwsgi apart: install_uwsgi
APT_PKGS=(mariadb-server mariadb-client rabbitmq-server gcc python3-dev python3-venv curl procps)

SERVICES=(mariadb rabbitmq epmd keystone glance-api nova-api heat-api heat-engine fake-cloud)
# Node hosts (README.md "Node hosts"): node_host.py watch, a container per stand-in server.
[ "${DISCO_TESTBED_NODES:-0}" != 1 ] || SERVICES+=(node-host)

T0=$(date +%s.%N)
log() { printf '[%5.1fs] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN{print a-b}')" "$*" >&2; }
die() { echo "openstack.sh: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ---------------------------------------------------------------------------- install
install_stamp() {  # what the venv was built from; a change rebuilds it
  { echo "${PIP_PKGS[*]} uwsgi-from-source"; "$PY" -c 'import sys; print(sys.version)'; constraints; } | sha256sum | cut -c1-16
}

# uwsgi embeds the Python it was compiled against. A wheel pip built earlier for another
# interpreter of the same version (a pyenv Python, say: same cp3XX tag) would be taken
# from pip's cache or a --find-links directory, and its uwsgi would load that Python's
# libpython: Keystone then dies at start with "No module named '_socket'". So uwsgi is
# always compiled here, for the venv's own Python, and checked with ldd.
install_uwsgi() {
  local version
  version=$(constraints | awk -F'==' 'tolower($1) == "uwsgi" {print $2}')
  [ -n "$version" ] || die "no uWSGI pin in the constraints"
  log "building uwsgi $version from source for $("$VENV/bin/python" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-cache-dir --no-binary uwsgi --use-pep517 \
    --force-reinstall --no-deps "uwsgi==$version"
}

# uwsgi_libpython_problem: prints why $VENV/bin/uwsgi would not run the venv's Python
# (nothing, status 0, when it would): it must load the libpython of the venv's Python
# (or none, linked statically, when that Python has no shared library).
uwsgi_libpython_problem() {
  local want linked found
  [ -x "$VENV/bin/uwsgi" ] || { echo "$VENV/bin/uwsgi is missing"; return 1; }
  want=$("$VENV/bin/python" -c 'import os, sysconfig as s
if s.get_config_var("Py_ENABLE_SHARED"):
    print(os.path.realpath(os.path.join(s.get_config_var("LIBDIR"), s.get_config_var("INSTSONAME"))))') \
    || { echo "$VENV/bin/python does not run"; return 1; }
  # "libpython3.11.so.1.0 => /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0 (0x...)"
  linked=$(ldd "$VENV/bin/uwsgi" 2>&1 | awk '$1 ~ /^libpython/ {$1 = $1; print}')
  if [ -z "$want" ]; then
    [ -z "$linked" ] && return 0
    echo "$VENV/bin/uwsgi links $linked, but $VENV/bin/python has no shared libpython"
    return 1
  fi
  [ -n "$linked" ] || { echo "$VENV/bin/uwsgi links no libpython; $VENV/bin/python's is $want"; return 1; }
  found=$(awk '{print $3}' <<<"$linked")
  if [ "$(wc -l <<<"$linked")" -ne 1 ] || [ ! -e "$found" ] || [ "$(realpath "$found")" != "$want" ]; then
    echo "$VENV/bin/uwsgi links $(paste -sd';' <<<"$linked"), but $VENV/bin/python's libpython is $want"
    return 1
  fi
}

cmd_install() {
  local t0=$SECONDS missing=() p
  [ -x "$PY" ] || missing+=(python3)
  while read -r p st; do
    [ "$st" = installed ] || missing+=("$p")
  done < <(for p in "${APT_PKGS[@]}"; do
             printf '%s %s\n' "$p" "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || echo missing)"; done)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    # Keep Debian's maintainer scripts from starting system-wide mariadb/rabbitmq daemons.
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
      as_root chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${APT_PKGS[@]}" >/dev/null
    [ $made_policy = 1 ] && as_root rm -f /usr/sbin/policy-rc.d
  fi
  mkdir -p "$TB_DIR"
  local stamp built=0; stamp=$(install_stamp)
  if [ "$(cat "$VENV/.disco-testbed-stamp" 2>/dev/null)" != "$stamp" ]; then
    log "pip install into $VENV (keystone $KEYSTONE_VERSION, heat $HEAT_VERSION, glance $GLANCE_VERSION, nova $NOVA_VERSION, uwsgi from source)"
    if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then rm -rf "$VENV"; "$PY" -m venv "$VENV"; fi
    constraints > "$TB_DIR/constraints.txt"
    "$VENV/bin/pip" install -q --disable-pip-version-check -c "$TB_DIR/constraints.txt" wheel
    "$VENV/bin/pip" install -q --disable-pip-version-check -c "$TB_DIR/constraints.txt" "${PIP_PKGS[@]}"
    # uwsgi is compiled by pip, for this venv's Python: needs gcc and python3-dev (above).
    install_uwsgi; built=1
  fi
  # Every time (a few ms): a venv made before this check, or changed since, is mended.
  local problem
  if ! problem=$(uwsgi_libpython_problem); then
    if [ $built = 0 ]; then
      log "uwsgi is not built for this venv's Python ($problem): building it again"
      install_uwsgi
    fi
    problem=$(uwsgi_libpython_problem) \
      || die "uwsgi, just built from source, would not run $VENV/bin/python: $problem." \
             "See ldd $VENV/bin/uwsgi; a Python whose libpython is not on the loader's path (a pyenv one, say) needs it there."
  fi
  echo "$stamp" > "$VENV/.disco-testbed-stamp"
  [ "${DISCO_TESTBED_NODES:-0}" != 1 ] || "$HERE/nodes.sh" image   # node hosts (README.md)
  # The Apache mirror the node hosts serve (Spark from pyspark; cached, seconds when built).
  [ "${DISCO_TESTBED_NODES:-0}" != 1 ] || "$HERE/apache_mirror.sh" build
  log "install done in $((SECONDS - t0)) s ($VENV)"
}

# Versions that were installed and tested together (pip freeze of a working venv).
# keystone, heat, glance and nova pin their own direct dependencies only loosely; this
# keeps a later release of some library from breaking the test bed.
constraints() {
  cat <<'EOF'
alembic==1.20.1
amqp==5.4.2
aniso8601==10.0.1
aodhclient==3.12.0
async-timeout==5.0.1
attrs==26.1.0
automaton==3.5.0
autopage==0.6.0
bcrypt==5.0.0
blinker==1.9.0
cachetools==8.0.1
castellan==5.8.0
certifi==2026.10.18
cffi==2.1.1
charset-normalizer==3.5.2
click==8.5.1
cliff==4.17.0
cmd2==4.3.1
cotyledon==2.2.0
croniter==7.0.0
cryptography==50.0.2
cursive==0.3.1
debtcollector==3.1.0
decorator==5.3.1
defusedxml==0.7.1
dnspython==2.9.2
docker==7.2.0
dogpile.cache==1.5.0
elementpath==4.8.0
eventlet==0.41.3
fasteners==0.20
fixtures==4.3.2
Flask==3.1.3
Flask-RESTful==0.3.10
futurist==3.5.0
glance==33.0.0
glance_store==5.7.0
greenlet==3.5.6
httplib2==0.32.1
idna==3.20
importlib_metadata==10.2.0
invoke==3.0.3
iso8601==2.1.0
itsdangerous==2.2.0
Jinja2==3.1.6
jmespath==1.1.0
jsonpatch==1.47
jsonpointer==3.12
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
jwcrypto==1.6.1
keystone==30.0.0
keystoneauth1==5.18.1
keystonemiddleware==13.0.1
kombu==5.7.0
lazy-importer==0.1.0
lxml==6.1.3
Mako==1.4.3
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mdurl==0.1.2
microversion_parse==2.1.0
msgpack==1.2.4
ncclient==0.7.1
netaddr==1.3.0
networkx==3.6.1
neutron-lib==5.0.1
nova==34.0.0
numpy==2.4.6
oauthlib==4.0.1
openstack-heat==27.0.1
openstacksdk==4.22.0
os-brick==7.1.1
os-ken==4.2.2
os-resource-classes==1.1.0
os-service-types==1.9.0
os-traits==3.9.0
os_vif==5.3.0
osc-lib==4.7.0
oslo.cache==4.3.0
oslo.concurrency==7.6.1
oslo.config==10.7.0
oslo.context==6.5.0
oslo.db==18.1.1
oslo.i18n==6.9.0
oslo.limit==2.12.0
oslo.log==8.3.2
oslo.messaging==18.3.1
oslo.metrics==0.17.0
oslo.middleware==8.2.0
oslo.policy==6.0.1
oslo.privsep==3.12.0
oslo.reports==3.9.0
oslo.rootwrap==7.10.0
oslo.serialization==5.11.0
oslo.service==4.8.0
oslo.upgradecheck==2.8.0
oslo.utils==10.2.0
oslo.versionedobjects==3.12.0
osprofiler==4.4.0
ovs==4.0.0
ovsdbapp==3.0.0
packaging==26.3
paramiko==5.1.0
Paste==3.10.1
PasteDeploy==3.1.0
pbr==7.1.3
pecan==1.8.0
platformdirs==4.14.7
prettytable==3.18.0
prometheus_client==0.26.0
prompt_toolkit==3.0.53
psutil==7.2.2
pycadf==4.1.0
pycparser==3.12
pydot==4.0.1
Pygments==2.21.0
PyJWT==2.15.1
PyMySQL==1.2.4
PyNaCl==1.6.2
pyOpenSSL==26.4.0
pyparsing==3.3.3
pyperclip==1.11.0
pyroute2==0.9.7
pysaml2==7.5.5
python-barbicanclient==7.6.0
python-blazarclient==4.6.0
python-cinderclient==9.10.0
python-dateutil==4.0.0
python-designateclient==7.0.0
python-glanceclient==4.13.0
python-heatclient==5.3.0
python-ironicclient==6.3.0
python-keystoneclient==6.0.0
python-magnumclient==5.0.0
python-manilaclient==6.3.0
python-mistralclient==6.3.0
python-neutronclient==14.0.0
python-novaclient==18.13.1
python-octaviaclient==3.15.0
python-openstackclient==10.5.0
python-swiftclient==4.11.0
python-troveclient==8.11.0
python-zaqarclient==4.7.0
python-zunclient==5.5.0
pytz==2026.6
PyYAML==6.0.3
redis==8.1.0
referencing==0.37.0
repoze-lru==0.8
requests==2.34.2
retrying==1.4.2
rfc3986==2.0.0
rich==15.0.0
rich-argparse==1.8.0
Routes==2.5.1
rpds-py==2026.9.1
setproctitle==1.3.8
simplegeneric==0.8.1
six==1.17.0
sortedcontainers==2.4.0
SQLAlchemy==2.1.9
statsd==4.0.1
stevedore==5.10.0
taskflow==6.5.0
tenacity==9.2.1
testresources==2.1.2
testscenarios==0.7.0
tooz==9.1.0
typing_extensions==4.16.0
tzdata==2026.6
urllib3==2.8.0
uWSGI==2.0.31
vine==5.1.0
voluptuous==0.16.0
warlock==2.1.0
wcwidth==0.9.4
WebOb==1.8.11
websocket-client==1.9.2
websockify==0.13.0
Werkzeug==3.1.9
wheel==0.48.0
wrapt==2.5.2
WSME==0.13.0
xmlschema==2.5.1
yappi==1.7.6
yaql==3.2.0
zipp==4.1.2
EOF
}

# ---------------------------------------------------------------------------- processes
proc_start() {  # pid -> start time in jiffies (field 22 of /proc/PID/stat), guards PID reuse
  local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }; set -- $s; echo "${20}"
}
group_alive() {  # pgid -> 0 if any non-zombie process is in that process group
  ps -e -o pgid=,stat= | awk -v g="$1" '$1==g && $2 !~ /^Z/ {f=1} END {exit !f}'
}

spawn() {  # name logfile cmd... : start in its own session, record PID + start time
  local name=$1 out=$2; shift 2
  setsid "$@" >"$out" 2>&1 </dev/null &
  local pid=$!
  echo "$pid $(proc_start $pid || echo 0)" > "$PIDDIR/$name.pid"
  # setsid only keeps the PID when the caller is not a process-group leader (true in a
  # script); a forked setsid would leave us with the wrong PID, so say so loudly.
  sleep 0.05
  if [ -d /proc/$pid ] && [ "$(ps -o sid= -p $pid | tr -d ' ')" != "$pid" ]; then
    die "spawn $name: PID $pid is not a session leader (setsid forked?)"
  fi
}

members() {  # pid -> the pid, its process group and all its descendants (one per line)
  ps -e -o pid=,ppid=,pgid= | awk -v root="$1" '
    { parent[$1] = $2; if ($3 == root) print $1 }
    END { for (p in parent) { q = p; n = 0
            while (q != root && (q in parent) && n++ < 64) q = parent[q]
            if (q == root) print p } }' | sort -u
}
alive() {  # pids... -> the ones still running (not zombies)
  local p s
  for p in "$@"; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }; [ "${s%% *}" = Z ] || echo "$p"
  done
}

stop_group() {  # names...: TERM each recorded process (its group and descendants) at once,
               # wait for all of them, KILL what is left after $GRACE s
  local n f pid st i left procs=()
  for n in "$@"; do
    f=$PIDDIR/$n.pid
    [ -s "$f" ] || continue
    read -r pid st < "$f"
    if [ "$(proc_start "$pid" || echo gone)" != "$st" ] && ! group_alive "$pid"; then
      rm -f "$f"; continue          # already gone (a reused PID is someone else's: left alone)
    fi
    local mine; mine=($(members "$pid"))
    kill -TERM -- "-$pid" 2>/dev/null || true
    [ ${#mine[@]} -eq 0 ] || kill -TERM "${mine[@]}" 2>/dev/null || true
    procs+=("${mine[@]}")
  done
  [ ${#procs[@]} -gt 0 ] || return 0
  for ((i = 0; i < GRACE * 10; i++)); do
    left=$(alive "${procs[@]}"); [ -n "$left" ] || break; sleep 0.1
  done
  left=$(alive "${procs[@]}")
  if [ -n "$left" ]; then
    echo "  $* did not stop in ${GRACE}s: KILL $(echo $left)" >&2
    kill -KILL $left 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do [ -n "$(alive $left)" ] || break; sleep 0.1; done
  fi
  STOPPED+=("${procs[@]}")
  for n in "$@"; do rm -f "$PIDDIR/$n.pid"; done
}

cmd_down() {
  local n
  # The node host first, alone: on TERM it halts its containers itself (TERM to all its
  # descendants at once, as stop_group does, would reach every process in them).
  local pid st i
  if [ -s "$PIDDIR/node-host.pid" ] && read -r pid st < "$PIDDIR/node-host.pid" \
     && [ "$(proc_start "$pid" || echo gone)" = "$st" ]; then
    kill -TERM "$pid"
    for ((i = 0; i < 300; i++)); do [ "$(proc_start "$pid" || echo gone)" = "$st" ] || break; sleep 0.1; done
  fi
  # Node containers (node_host.py), their proxy and bridge, whether or not `up` started them.
  if [ -d "$RUN/nodes" ] || ip link show discobr0 >/dev/null 2>&1; then
    "$PY" "$HERE/node_host.py" down; log "stopped node containers, their proxy and bridge"
  fi
  [ -d "$PIDDIR" ] || { log "nothing to stop"; return 0; }
  STOPPED=()
  # heat-engine first (it still talks to RabbitMQ, MariaDB and Keystone while it stops),
  # then the APIs, then what they stand on; each tier is stopped in parallel.
  stop_group node-host heat-engine;        log "stopped heat-engine"
  stop_group heat-api keystone glance-api nova-api fake-cloud
  log "stopped heat-api, keystone, glance-api, nova-api, fake-cloud"
  stop_group rabbitmq mariadb;             log "stopped rabbitmq, mariadb"
  stop_group epmd;                         log "stopped epmd"
  # They are dead; give PID 1 (which inherited them when `up` exited) a moment to reap
  # the zombies so that `ps` right after `down` is clean.
  local i p z
  for ((i = 0; i < 50; i++)); do
    z=0; for p in "${STOPPED[@]}"; do [ -e "/proc/$p" ] && { z=1; break; }; done
    [ $z = 1 ] || break; sleep 0.1
  done
  log "down"
}

# ---------------------------------------------------------------------------- waiting
DEADLINE=0
left() { echo $((DEADLINE - SECONDS)); }
bounded() {  # cmd...: run it, killed when the `up` deadline passes
  local l; l=$(left); [ "$l" -gt 0 ] || { echo "deadline passed before: $*" >&2; return 124; }
  timeout -k 2 "$l" "$@"
}
fail() {  # service message logfile...
  local svc=$1 msg=$2 f; shift 2
  {
    echo "openstack.sh up: FAILED: $svc: $msg"
    for f in "$@"; do
      [ -e "$f" ] || continue
      echo "----- tail of $f"; tail -n 25 "$f"
    done
    echo "----- (all logs in $LOGS)"
  } >&2
  [ "${IN_BG:-0}" = 1 ] && exit 1    # a background step: the main flow reports and cleans up
  if [ "${DISCO_TESTBED_KEEP_ON_FAILURE:-0}" != 1 ]; then
    stop_bg_jobs; cmd_down 2>/dev/null || true
  fi
  exit 1
}
BG_JOBS=()     # `up`'s background setup steps (subshells)
stop_bg_jobs() {  # TERM the setup steps still running and all they started, so that none
                  # starts a service after `down` has looked for them
  local j procs=()
  for j in "${BG_JOBS[@]}"; do
    [ -e "/proc/$j" ] && procs+=($(members "$j"))
  done
  [ ${#procs[@]} -eq 0 ] || kill -TERM "${procs[@]}" 2>/dev/null || true
}
alive_or_fail() {  # name logfile...
  local pid st; read -r pid st < "$PIDDIR/$1.pid"
  [ "$(proc_start "$pid" || echo gone)" = "$st" ] || fail "$1" "process exited" "${@:2}"
}
http_code() { curl -s -m "${2:-3}" -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # service "what" check-cmd... ; logs via WAIT_LOGS
  local svc=$1 what=$2; shift 2
  while ! "$@"; do
    [ "$(left)" -gt 0 ] || fail "$svc" "no answer within ${UP_TIMEOUT}s: $what" "${WAIT_LOGS[@]}"
    [ -z "${WAIT_PROC:-}" ] || alive_or_fail "$WAIT_PROC" "${WAIT_LOGS[@]}"
    sleep 0.2
  done
}
is_http() { [ "$(http_code "$1")" = "$2" ]; }

# ---------------------------------------------------------------------------- services
start_epmd_rabbit() {
  mkdir -p "$RUN/rabbitmq/mnesia"
  cat > "$RUN/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
loopback_users = none
default_user = os
default_pass = ospass
log.file.level = warning
EOF
  echo '[].' > "$RUN/rabbitmq/enabled_plugins"
  rabbit_env
  spawn epmd "$LOGS/epmd.log" epmd -address 127.0.0.1 -port "$EPMD_PORT"
  WAIT_PROC=epmd WAIT_LOGS=("$LOGS/epmd.log") wait_for epmd "port $EPMD_PORT" port_open "$EPMD_PORT"
  spawn rabbitmq "$LOGS/rabbitmq.out" /usr/lib/rabbitmq/bin/rabbitmq-server
}
rabbit_env() {
  export HOME=$RUN/rabbitmq RABBITMQ_NODENAME=disco@localhost RABBITMQ_USE_LONGNAME=false
  export RABBITMQ_CONF_ENV_FILE=$RUN/rabbitmq/rabbitmq-env.conf
  : > "$RUN/rabbitmq/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE=$RUN/rabbitmq/rabbitmq.conf RABBITMQ_MNESIA_BASE=$RUN/rabbitmq/mnesia
  export RABBITMQ_LOG_BASE=$LOGS RABBITMQ_ENABLED_PLUGINS_FILE=$RUN/rabbitmq/enabled_plugins
  export RABBITMQ_PID_FILE=$RUN/rabbitmq/rabbit.pid RABBITMQ_DIST_PORT=$DIST_PORT
  export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$EPMD_PORT
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

mysql_cli() { mariadb --defaults-file="$RUN/mysql/my.cnf" "$@"; }
start_mariadb() {
  mkdir -p "$RUN/mysql/data" "$RUN/mysql/tmp"
  cat > "$RUN/mysql/my.cnf" <<EOF
[mysqld]
user = $(id -un)
datadir = $RUN/mysql/data
tmpdir = $RUN/mysql/tmp
socket = $RUN/mysql/mysql.sock
pid-file = $RUN/mysql/mysqld.pid
log-error = $LOGS/mariadb.err
skip-networking
skip-name-resolve
skip-log-bin
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
performance_schema = OFF
max_connections = 500
[client]
socket = $RUN/mysql/mysql.sock
EOF
  bounded mariadb-install-db --defaults-file="$RUN/mysql/my.cnf" --auth-root-authentication-method=socket \
    --skip-test-db >"$LOGS/mariadb-install.log" 2>&1 \
    || fail mariadb "mariadb-install-db failed" "$LOGS/mariadb-install.log"
  spawn mariadb "$LOGS/mariadb.out" mariadbd --defaults-file="$RUN/mysql/my.cnf"
  WAIT_PROC=mariadb WAIT_LOGS=("$LOGS/mariadb.err" "$LOGS/mariadb.out") \
    wait_for mariadb "mariadb-admin ping" mariadb_ping
  local db sql="CREATE USER 'os'@'localhost' IDENTIFIED BY 'ospass';"
  for db in keystone heat glance nova_api nova; do
    sql+=" CREATE DATABASE $db CHARACTER SET utf8mb4; GRANT ALL ON $db.* TO 'os'@'localhost';"
  done
  mysql_cli -e "$sql" || fail mariadb "creating databases failed" "$LOGS/mariadb.err"
}
mariadb_ping() { mariadb-admin --defaults-file="$RUN/mysql/my.cnf" ping >/dev/null 2>&1; }
db_url() { echo "mysql+pymysql://os:ospass@localhost/$1?unix_socket=$RUN/mysql/mysql.sock&charset=utf8mb4"; }

write_keystone_conf() {
  mkdir -p "$RUN/keystone"
  cat > "$RUN/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOGS/keystone.log
[database]
connection = $(db_url keystone)
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $RUN/keystone/fernet-keys
# Keystone's receipt provider (MFA) checks its own repository at start-up and exits when
# it is missing; its default is /etc/keystone/fernet-keys/, which need not exist here.
[fernet_receipts]
key_repository = $RUN/keystone/fernet-keys
[credential]
key_repository = $RUN/keystone/credential-keys
[identity]
# bcrypt's default 12 rounds cost ~0.25 s of CPU per password check; tests authenticate a lot.
password_hash_rounds = 4
EOF
}

setup_keystone() {  # runs in the background during `up`; output -> keystone-setup.log
  local C=(--config-file "$RUN/keystone/keystone.conf")
  bounded "$VENV/bin/keystone-manage" "${C[@]}" db_sync;   log "keystone db_sync done"
  # What `keystone-manage fernet_setup` / `credential_setup` write (key 0 staged, key 1
  # primary; a key is 32 random bytes, urlsafe base64), without 2 x 2 s of Python start-up.
  local d k
  for d in fernet-keys credential-keys; do
    mkdir -m 700 "$RUN/keystone/$d"
    for k in 0 1; do
      (umask 077; head -c 32 /dev/urandom | base64 | tr '+/' '-_' > "$RUN/keystone/$d/$k")
    done
  done
  # uwsgi, not gunicorn (oslo.config parses sys.argv); --http11-socket, not --http-socket
  # (that one drops keep-alive and clients see "connection reset"). Started now: its
  # imports overlap with the bootstrap below, and it answers once both are done.
  spawn keystone "$LOGS/keystone-uwsgi.log" "$VENV/bin/uwsgi" --http11-socket "127.0.0.1:$KS_PORT" \
    --virtualenv "$VENV" --env "OS_KEYSTONE_CONFIG_FILES=$RUN/keystone/keystone.conf" \
    --module keystone.wsgi.api:application --master --processes 1 --threads 8 --lazy-apps \
    --die-on-term --need-app --disable-logging --log-5xx --log-4xx \
    --worker-reload-mercy 2 --reload-mercy 2 --skip-atexit-teardown
  bounded "$VENV/bin/keystone-manage" "${C[@]}" bootstrap --bootstrap-password adminpass \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "http://127.0.0.1:$KS_PORT/v3/" \
    --bootstrap-internal-url "http://127.0.0.1:$KS_PORT/v3/" \
    --bootstrap-public-url "http://127.0.0.1:$KS_PORT/v3/"
  log "keystone bootstrap done"
  WAIT_PROC=keystone WAIT_LOGS=("$LOGS/keystone-uwsgi.log" "$LOGS/keystone.log") \
    wait_for keystone "GET /v3" is_http "http://127.0.0.1:$KS_PORT/v3" 200
  log "keystone answers"
  KS="http://127.0.0.1:$KS_PORT/v3" HEAT_PORT=$HEAT_PORT IDS="$RUN/ids.env" \
    NOVA_PORT=$NOVA_PORT NEUTRON_PORT=$NEUTRON_PORT GLANCE_PORT=$GLANCE_PORT \
    bounded "$VENV/bin/python" - <<'EOF'
# Users, projects, roles, the Heat stack domain and the service catalog.
import json, os, urllib.request
KS = os.environ["KS"]
def call(method, path, body=None, tok=None):
    h = {"Content-Type": "application/json"}
    if tok: h["X-Auth-Token"] = tok
    r = urllib.request.Request(KS + path, json.dumps(body).encode() if body else None, h, method=method)
    with urllib.request.urlopen(r, timeout=30) as resp:
        t = resp.read()
        return resp.headers, (json.loads(t) if t else None)
hd, _ = call("POST", "/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
    "user": {"name": "admin", "domain": {"id": "default"}, "password": "adminpass"}}},
    "scope": {"system": {"all": True}}}})
T = hd["X-Subject-Token"]
def mk(kind, body): return call("POST", "/%ss" % kind, {kind: body}, T)[1][kind]["id"]
def grant(target, tid, user, role): call("PUT", f"/{target}/{tid}/users/{user}/roles/{role}", tok=T)
role = {r["name"]: r["id"] for r in call("GET", "/roles", tok=T)[1]["roles"]}
for n in ("member", "reader", "admin", "heat_stack_owner", "heat_stack_user"):
    if n not in role: role[n] = mk("role", {"name": n})
proj = {p["name"]: p["id"] for p in call("GET", "/projects", tok=T)[1]["projects"]}
for n in ("service", "demo", "other"):
    proj[n] = mk("project", {"name": n, "domain_id": "default", "description": "disco test bed"})
users = {}
for name, pw, project, r in (("heat", "heatpass", "service", "admin"),
                             ("glance", "glancepass", "service", "admin"),
                             ("nova", "novapass", "service", "admin"),
                             ("disco", "discopass", "service", "admin"),
                             ("demo", "demopass", "demo", "member"),
                             ("other", "otherpass", "other", "member")):
    users[name] = mk("user", {"name": name, "password": pw, "domain_id": "default",
                              "default_project_id": proj[project]})
    grant("projects", proj[project], users[name], role[r])
# Heat's stack domain: users for WaitConditionHandle & co. live there.
dom = mk("domain", {"name": "heat", "description": "Heat stack projects and users"})
dadm = mk("user", {"name": "heat_domain_admin", "password": "domainadminpass", "domain_id": dom})
grant("domains", dom, dadm, role["admin"])
def service(name, typ, url, interfaces=("public", "internal", "admin")):
    sid = mk("service", {"name": name, "type": typ})
    for i in interfaces:
        mk("endpoint", {"service_id": sid, "interface": i, "region_id": "RegionOne", "url": url})
service("heat", "orchestration", "http://127.0.0.1:%s/v1/%%(tenant_id)s" % os.environ["HEAT_PORT"])
service("nova", "compute", "http://127.0.0.1:%s/v2.1" % os.environ["NOVA_PORT"])
service("neutron", "network", "http://127.0.0.1:%s" % os.environ["NEUTRON_PORT"])
service("glance", "image", "http://127.0.0.1:%s" % os.environ["GLANCE_PORT"])
with open(os.environ["IDS"], "w") as f:
    for n, i in proj.items(): f.write("%s_PROJECT_ID=%s\n" % (n.upper(), i))
    for n, i in users.items(): f.write("%s_USER_ID=%s\n" % (n.upper(), i))
    f.write("HEAT_DOMAIN_ID=%s\n" % dom)
print("keystone objects created")
EOF
}

write_heat_conf() {
  mkdir -p "$RUN/heat/locks"
  cat > "$RUN/heat/heat.conf" <<EOF
[DEFAULT]
transport_url = rabbit://os:ospass@127.0.0.1:$AMQP_PORT/
num_engine_workers = $ENGINE_WORKERS
graceful_shutdown_timeout = 2
region_name_for_services = RegionOne
stack_user_domain_name = heat
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = domainadminpass
# heat-api-cfn is not started: OS::Heat::WaitConditionHandle (token signal through the
# native API) works, AWS::CloudFormation::WaitConditionHandle and CFN_SIGNAL do not.
heat_metadata_server_url = http://127.0.0.1:8000
heat_waitcondition_server_url = http://127.0.0.1:8000/v1/waitcondition
[database]
connection = $(db_url heat)
[paste_deploy]
api_paste_config = $VENV/etc/heat/api-paste.ini
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KS_PORT/v3
auth_url = http://127.0.0.1:$KS_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = heat
password = heatpass
[trustee]
auth_type = password
auth_url = http://127.0.0.1:$KS_PORT
username = heat
password = heatpass
user_domain_name = Default
[clients_keystone]
auth_uri = http://127.0.0.1:$KS_PORT
[oslo_concurrency]
lock_path = $RUN/heat/locks
[oslo_policy]
policy_file = $RUN/heat/policy.yaml
EOF
  # The node host (node_host.py watch) lists every project's stand-in servers as admin.
  cat > "$RUN/heat/policy.yaml" <<'EOF'
"stacks:global_index": "role:admin"
EOF
}

start_heat() {  # after heat db_sync and RabbitMQ; Keystone need not be up yet
  spawn heat-engine "$LOGS/heat-engine.out" "$VENV/bin/heat-engine" --config-file "$RUN/heat/heat.conf" \
    --log-file "$LOGS/heat-engine.log"
  spawn heat-api "$LOGS/heat-api-uwsgi.log" "$VENV/bin/uwsgi" --http11-socket "127.0.0.1:$HEAT_PORT" \
    --virtualenv "$VENV" --module heat.wsgi.api:application --pyargv "--config-file $RUN/heat/heat.conf --log-file $LOGS/heat-api.log" \
    --master --processes 1 --threads 8 --lazy-apps --die-on-term --need-app \
    --disable-logging --log-5xx --log-4xx --worker-reload-mercy 2 --reload-mercy 2 --skip-atexit-teardown
}

engine_registered() {
  [ "$(mysql_cli -N -e 'SELECT COUNT(*) FROM heat.service WHERE deleted_at IS NULL' 2>/dev/null)" -ge 1 ] 2>/dev/null
}

# ---------------------------------------------------------------------------- glance, nova
# Real glance-api (file store in the run dir) and real nova-api (the API service alone:
# no conductor, scheduler, compute or placement, so it serves flavors and key pairs, not
# servers), both under uwsgi with Keystone's auth_token middleware. nova-api wants its
# API database (flavors, key pairs, cell mappings) and, at start-up, the main database
# too: it records itself in `services` and asks for the oldest nova-compute there.
UWSGI_APP_OPTS=(--master --processes 1 --threads 8 --lazy-apps --die-on-term --need-app
                --disable-logging --log-5xx --log-4xx --worker-reload-mercy 2 --reload-mercy 2
                --skip-atexit-teardown)
authtoken_conf() {  # service-user password
  cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KS_PORT/v3
auth_url = http://127.0.0.1:$KS_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $2
EOF
}

write_glance_conf() {
  mkdir -p "$RUN/glance/images" "$RUN/glance/staging" "$RUN/glance/tasks" "$RUN/glance/cache" \
    "$RUN/glance/locks"
  cat > "$RUN/glance/glance-api.conf" <<EOF
[DEFAULT]
log_file = $LOGS/glance-api.log
enabled_backends = fs:file
# Only uploads through the API: no import method that would fetch a URL.
enabled_import_methods = [glance-direct]
worker_self_reference_url = http://127.0.0.1:$GLANCE_PORT
image_cache_dir = $RUN/glance/cache
[database]
connection = $(db_url glance)
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $RUN/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $RUN/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $RUN/glance/tasks
[paste_deploy]
flavor = keystone
config_file = $VENV/etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $RUN/glance/locks
$(authtoken_conf glance glancepass)
EOF
}

write_nova_conf() {
  mkdir -p "$RUN/nova/locks"
  cat > "$RUN/nova/nova.conf" <<EOF
[DEFAULT]
log_file = $LOGS/nova-api.log
host = disco-testbed
# Set, so that nothing probes a route to find the host's address.
my_ip = 127.0.0.1
state_path = $RUN/nova
# nova-api makes no RPC call for flavors or key pairs; should it ever, it stays here.
transport_url = rabbit://os:ospass@127.0.0.1:$AMQP_PORT/
[api]
auth_strategy = keystone
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[oslo_concurrency]
lock_path = $RUN/nova/locks
[oslo_policy]
policy_file = $RUN/nova/policy.yaml
$(authtoken_conf nova novapass)
EOF
  # Nothing could build a server (no conductor, scheduler, compute or placement): say so
  # at once with 403 rather than leave it in BUILD for ever.
  cat > "$RUN/nova/policy.yaml" <<'EOF'
"os_compute_api:servers:create": "!"
EOF
}

setup_glance() {  # runs in the background during `up`; output -> glance-setup.log
  bounded nice -n "$SETUP_NICE" "$VENV/bin/glance-manage" --config-file "$RUN/glance/glance-api.conf" \
    --log-file "$LOGS/glance-dbsync.log" db sync \
    || fail glance-api "glance-manage db sync failed" "$LOGS/glance-setup.log" "$LOGS/glance-dbsync.log"
  log "glance db sync done"
  spawn glance-api "$LOGS/glance-api-uwsgi.log" "$VENV/bin/uwsgi" --http11-socket "127.0.0.1:$GLANCE_PORT" \
    --virtualenv "$VENV" --env "OS_GLANCE_CONFIG_DIR=$RUN/glance" \
    --module glance.wsgi.api:application "${UWSGI_APP_OPTS[@]}"
}

setup_nova() {  # runs in the background during `up`; output -> nova-setup.log
  local C=(--config-file "$RUN/nova/nova.conf") api_job
  # Native threads for nova-manage too (nova-api's WSGI module asks for them itself):
  # no eventlet monkey patching, no deprecation warning.
  export OS_NOVA_DISABLE_EVENTLET_PATCHING=true
  # The two schemas are independent: migrate them at once. --local_cell: the main
  # database only (no cell0 mapping is looked up, none exists).
  bounded nice -n "$SETUP_NICE" "$VENV/bin/nova-manage" "${C[@]}" --log-file "$LOGS/nova-api-dbsync.log" \
    api_db sync &
  api_job=$!
  bounded nice -n "$SETUP_NICE" "$VENV/bin/nova-manage" "${C[@]}" --log-file "$LOGS/nova-dbsync.log" \
    db sync --local_cell || fail nova-api "nova-manage db sync failed" "$LOGS/nova-setup.log" "$LOGS/nova-dbsync.log"
  wait $api_job || fail nova-api "nova-manage api_db sync failed" "$LOGS/nova-setup.log" "$LOGS/nova-api-dbsync.log"
  log "nova api_db sync + db sync done"
  spawn nova-api "$LOGS/nova-api-uwsgi.log" "$VENV/bin/uwsgi" --http11-socket "127.0.0.1:$NOVA_PORT" \
    --virtualenv "$VENV" --env "OS_NOVA_CONFIG_FILES=$VENV/etc/nova/api-paste.ini;$RUN/nova/nova.conf" \
    --module nova.wsgi.osapi_compute:application "${UWSGI_APP_OPTS[@]}"
}

seed_cloud() {  # after Keystone's objects, glance-api and nova-api; output -> cloud-seed.log
  KS="http://127.0.0.1:$KS_PORT/v3" GLANCE="http://127.0.0.1:$GLANCE_PORT" \
    NOVA="http://127.0.0.1:$NOVA_PORT/v2.1" IDS="$RUN/ids.env" bounded "$VENV/bin/python" - <<'EOF'
# What a small cloud offers every project: public flavors, public active images (a few
# bytes of data each), and key pairs "default" and "disco" for demo and other. Created as
# admin through the real APIs; then demo must see them.
import json, os, urllib.request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
KS, GLANCE, NOVA = os.environ["KS"], os.environ["GLANCE"], os.environ["NOVA"]
IDS = dict(l.strip().split("=", 1) for l in open(os.environ["IDS"]) if "=" in l)
def call(method, url, body=None, tok=None, headers=None, raw=False):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    h.update(headers or {})
    if tok: h["X-Auth-Token"] = tok
    data = body if raw else (json.dumps(body).encode() if body is not None else None)
    r = urllib.request.Request(url, data, h, method=method)
    with urllib.request.urlopen(r, timeout=60) as resp:
        t = resp.read()
        return resp.headers, (json.loads(t) if t else None)
def token(user, pw, project):
    hd, _ = call("POST", KS + "/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"id": "default"}, "password": pw}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}})
    return hd["X-Subject-Token"]
T = token("admin", "adminpass", "admin")
FLAVORS = [("1", "m1.tiny", 512, 1, 1), ("2", "m1.small", 2048, 1, 20), ("3", "m1.medium", 4096, 2, 40),
           ("4", "m1.large", 8192, 4, 80), ("5", "m1.xlarge", 16384, 8, 160)]
for fid, name, ram, vcpus, disk in FLAVORS:
    call("POST", NOVA + "/flavors", {"flavor": {"id": fid, "name": name, "ram": ram, "vcpus": vcpus,
         "disk": disk, "os-flavor-access:is_public": True}}, T)
IMAGES = [("ubuntu-22.04", "ubuntu", "22.04"), ("ubuntu-24.04", "ubuntu", "24.04"),
          ("ubuntu-20.04", "ubuntu", "20.04"), ("debian-12", "debian", "12"), ("cirros", "cirros", "0.6")]
for name, distro, version in IMAGES:
    _, img = call("POST", GLANCE + "/v2/images", {"name": name, "visibility": "public",
                  "disk_format": "raw", "container_format": "bare", "os_distro": distro,
                  "os_version": version}, T)
    # raw: Glance checks that uploaded data is of the declared disk format.
    call("PUT", GLANCE + "/v2/images/%s/file" % img["id"], ("disco test bed image %s\n" % name).encode(),
         T, {"Content-Type": "application/octet-stream"}, raw=True)
# Key pairs belong to a user; an admin creates them for another user_id (microversion >= 2.10).
for user in ("DEMO", "OTHER"):
    for name in ("default", "disco"):
        pub = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
        call("POST", NOVA + "/os-keypairs", {"keypair": {"name": name, "user_id": IDS[user + "_USER_ID"],
             "type": "ssh", "public_key": pub + " %s@disco-testbed" % name}}, T,
             {"OpenStack-API-Version": "compute 2.92"})
D = token("demo", "demopass", "demo")
_, js = call("GET", GLANCE + "/v2/images", tok=D)
images = sorted(i["name"] for i in js["images"] if i["status"] == "active")
_, js = call("GET", NOVA + "/flavors/detail", tok=D)
flavors = sorted(f["name"] for f in js["flavors"])
_, js = call("GET", NOVA + "/os-keypairs", tok=D)
keypairs = sorted(k["keypair"]["name"] for k in js["keypairs"])
assert images == sorted(i[0] for i in IMAGES), images
assert flavors == sorted(f[1] for f in FLAVORS), flavors
assert keypairs == ["default", "disco"], keypairs
print("demo sees images %s, flavors %s, key pairs %s" % (images, flavors, keypairs))
EOF
}

admin_token() {  # project-scoped admin token (Heat wants a project)
  curl -s -m 10 -D - -o /dev/null -H 'Content-Type: application/json' \
    -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"adminpass"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
    "http://127.0.0.1:$KS_PORT/v3/auth/tokens" | awk 'tolower($1)=="x-subject-token:" {print $2}' | tr -d '\r'
}

nodes_proxy_up() { [ -n "$(ss -Htln src 10.251.0.1:8888 2>/dev/null)" ]; }

cmd_up() {
  DEADLINE=$((SECONDS + UP_TIMEOUT))
  cmd_install   # a no-op taking ~0.1 s when everything is there
  if [ -d "$PIDDIR" ] && [ -n "$(ls -A "$PIDDIR" 2>/dev/null)" ]; then
    log "a previous test bed is running: stopping it first"; cmd_down
  fi
  local p
  for p in "$KS_PORT" "$HEAT_PORT" "$NOVA_PORT" "$NEUTRON_PORT" "$GLANCE_PORT" "$AMQP_PORT" "$EPMD_PORT" "$DIST_PORT"; do
    port_open "$p" && die "127.0.0.1:$p is already in use by a process this script did not start"
  done
  # Node containers' overlays are mounted under run/nodes: never rm -rf through them.
  [ ! -d "$RUN/nodes" ] || "$PY" "$HERE/node_host.py" down
  rm -rf "$RUN"; mkdir -p "$PIDDIR" "$LOGS"
  export PYTHONWARNINGS=ignore PYTHONDONTWRITEBYTECODE=1
  ( IN_BG=1; start_epmd_rabbit ) || fail rabbitmq "start failed" "$LOGS/epmd.log";                                         log "rabbitmq launched"
  # fake_cloud.py's Neutron only: Nova and Glance are the real ones.
  spawn fake-cloud "$LOGS/fake-cloud.log" env KS_PORT="$KS_PORT" "$VENV/bin/python" "$HERE/fake_neutron.py"
  start_mariadb;                                                 log "mariadb ready"
  write_keystone_conf; write_heat_conf; write_glance_conf; write_nova_conf
  # Keystone (migrations, bootstrap, uwsgi, objects), Glance and Nova (migrations, uwsgi)
  # and Heat (migrations) in parallel.
  ( IN_BG=1; setup_keystone ) >"$LOGS/keystone-setup.log" 2>&1 &
  local ks_job=$!; BG_JOBS+=($ks_job)
  ( IN_BG=1; setup_glance ) >"$LOGS/glance-setup.log" 2>&1 &
  local glance_job=$!; BG_JOBS+=($glance_job)
  ( IN_BG=1; setup_nova ) >"$LOGS/nova-setup.log" 2>&1 &
  local nova_job=$!; BG_JOBS+=($nova_job)
  bounded "$VENV/bin/heat-manage" --config-file "$RUN/heat/heat.conf" db_sync >"$LOGS/heat-dbsync.log" 2>&1 \
    || fail heat "heat-manage db_sync failed" "$LOGS/heat-dbsync.log"
  log "heat database ready"
  WAIT_PROC=rabbitmq WAIT_LOGS=("$LOGS/rabbitmq.out" "$LOGS"/disco@localhost.log) \
    wait_for rabbitmq "AMQP port $AMQP_PORT" port_open "$AMQP_PORT"
  log "rabbitmq ready"
  start_heat
  wait $ks_job || fail keystone "setup failed" "$LOGS/keystone-setup.log" "$LOGS/keystone-uwsgi.log" "$LOGS/keystone.log"
  log "keystone ready (users, projects, catalog)"
  wait $glance_job || fail glance-api "setup failed" "$LOGS/glance-setup.log"
  wait $nova_job || fail nova-api "setup failed" "$LOGS/nova-setup.log"
  WAIT_PROC=glance-api WAIT_LOGS=("$LOGS/glance-api-uwsgi.log" "$LOGS/glance-api.log") \
    wait_for glance-api "GET /" is_http "http://127.0.0.1:$GLANCE_PORT/" 300
  WAIT_PROC=nova-api WAIT_LOGS=("$LOGS/nova-api-uwsgi.log" "$LOGS/nova-api.log") \
    wait_for nova-api "GET /" is_http "http://127.0.0.1:$NOVA_PORT/" 200
  log "glance-api and nova-api answer"
  ( IN_BG=1; seed_cloud ) >"$LOGS/cloud-seed.log" 2>&1 &
  local seed_job=$!; BG_JOBS+=($seed_job)
  WAIT_PROC=fake-cloud WAIT_LOGS=("$LOGS/fake-cloud.log") \
    wait_for fake-cloud "GET :$NEUTRON_PORT/" is_http "http://127.0.0.1:$NEUTRON_PORT/" 200
  WAIT_PROC=heat-api WAIT_LOGS=("$LOGS/heat-api-uwsgi.log" "$LOGS/heat-api.log") \
    wait_for heat-api "GET /" is_http "http://127.0.0.1:$HEAT_PORT/" 300
  WAIT_PROC=heat-engine WAIT_LOGS=("$LOGS/heat-engine.out" "$LOGS/heat-engine.log") \
    wait_for heat-engine "service registration" engine_registered
  # End to end: Keystone token -> heat-api -> RPC over RabbitMQ -> heat-engine -> MariaDB.
  local tok code; tok=$(admin_token)
  [ -n "$tok" ] || fail keystone "no admin token" "$LOGS/keystone.log"
  . "$RUN/ids.env"
  code=$(curl -s -m "$(( $(left) > 5 ? $(left) : 5 ))" -o "$LOGS/first-stack-list.json" -w '%{http_code}' \
         -H "X-Auth-Token: $tok" "http://127.0.0.1:$HEAT_PORT/v1/$ADMIN_PROJECT_ID/stacks" || true)
  [ "$code" = 200 ] || fail heat-engine "GET /v1/<admin>/stacks answered '$code'" \
    "$LOGS/heat-api.log" "$LOGS/heat-engine.log" "$LOGS/heat-api-uwsgi.log"
  log "heat api + engine answer"
  if [ "${DISCO_TESTBED_NODES:-0}" = 1 ]; then
    OS_AUTH_URL=http://127.0.0.1:$KS_PORT/v3 spawn node-host "$LOGS/node-host.log" "$PY" "$HERE/node_host.py" watch 1
    WAIT_PROC=node-host WAIT_LOGS=("$LOGS/node-host.log") wait_for node-host "proxy on the bridge" nodes_proxy_up
    log "node host watching Heat (bridge discobr0, proxy 10.251.0.1:8888)"
  fi
  wait $seed_job || fail glance-api "public images, flavors or key pairs failed" "$LOGS/cloud-seed.log" \
    "$LOGS/glance-api.log" "$LOGS/nova-api.log"
  log "$(tail -n 1 "$LOGS/cloud-seed.log")"
  local n pid st   # for the record: every process of every service (down finds them anew)
  for n in "${SERVICES[@]}"; do
    read -r pid st < "$PIDDIR/$n.pid"
    ps -o pid=,pgid=,rss=,args= -p "$(members "$pid" | paste -sd, -)" | sed "s/^/$n /"
  done > "$RUN/processes.txt"
  echo "testbed up: keystone http://127.0.0.1:$KS_PORT/v3 heat http://127.0.0.1:$HEAT_PORT/v1" \
    "glance http://127.0.0.1:$GLANCE_PORT nova http://127.0.0.1:$NOVA_PORT/v2.1"
}

# ---------------------------------------------------------------------------- smoke
# End-to-end proof over REST (stdlib Python + curl, no openstack CLI): token for demo,
# validate, create with the fake environment, signal every WaitConditionHandle the way a
# booted node does (running the handle's curl_cli), CREATE_COMPLETE, outputs, delete;
# then the same template with fake-env-failing.yaml must end CREATE_FAILED.
# SMOKE_PARAMS='{"slave_count": 5}' passes stack parameters.
cmd_smoke() {
  local tpl=${1:-$HERE/../../../shared/testbed/tpl/cluster.yaml}
  [ -f "$tpl" ] || die "smoke: template '$tpl' not found (give a cluster template as argument)"
  KS="http://127.0.0.1:$KS_PORT/v3" HEAT_ENV_DIR="$HERE/heat-env" TEMPLATE=$tpl \
    SMOKE_PARAMS=${SMOKE_PARAMS:-} "$PY" - <<'PYEOF'
import glob, json, os, shlex, subprocess, sys, time, urllib.error, urllib.request
KS, ENVDIR, T0 = os.environ["KS"], os.environ["HEAT_ENV_DIR"], time.time()
PARAMS = json.loads(os.environ["SMOKE_PARAMS"] or "{}")
def say(*a): print("[%5.1fs]" % (time.time() - T0), *a, flush=True)
def check(cond, what):
    if not cond: say("smoke FAILED:", what); sys.exit(1)
def req(method, url, body=None, tok=None):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    if tok: h["X-Auth-Token"] = tok
    r = urllib.request.Request(url, json.dumps(body).encode() if body is not None else None, h, method=method)
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            t = resp.read().decode()
            return resp.status, resp.headers, (json.loads(t) if t else None)
    except urllib.error.HTTPError as e:
        t = e.read().decode()
        try: t = json.loads(t)
        except ValueError: pass
        return e.code, e.headers, t
st, hd, js = req("POST", KS + "/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
    "user": {"name": "demo", "domain": {"id": "default"}, "password": "demopass"}}},
    "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}})
check(st == 201, "token for demo: %s %s" % (st, js))
tok = hd["X-Subject-Token"]
heat = [e["url"] for s in js["token"]["catalog"] if s["type"] == "orchestration"
        for e in s["endpoints"] if e["interface"] == "public"][0]
say("POST /v3/auth/tokens (demo): 201; heat", heat)
template = open(os.environ["TEMPLATE"]).read()
files = {os.path.basename(f): open(f).read() for f in sorted(glob.glob(os.path.join(ENVDIR, "fake_*.yaml")))}
env = open(os.path.join(ENVDIR, "fake-env.yaml")).read()
t = time.time(); st, _, js = req("POST", heat + "/validate", {"template": template}, tok)
check(st == 200, "validate: %s %s" % (st, json.dumps(js)[:800]))
say("POST validate (template alone): 200 in %.2fs" % (time.time() - t))
t = time.time(); st, _, js = req("POST", heat + "/validate", {"template": template, "environment": env, "files": files}, tok)
check(st == 200, "validate with environment: %s %s" % (st, json.dumps(js)[:800]))
say("POST validate (with fake environment + files): 200 in %.2fs" % (time.time() - t))
def create(name, env):
    st, _, js = req("POST", heat + "/stacks", {"stack_name": name, "template": template, "environment": env,
                                              "files": files, "parameters": PARAMS, "timeout_mins": 10}, tok)
    check(st == 201, "create %s: %s %s" % (name, st, json.dumps(js)[:800]))
    return "%s/stacks/%s/%s" % (heat, name, js["stack"]["id"])
def wait(url, deadline, on_poll=None):
    while True:
        st, _, js = req("GET", url, None, tok)
        if st == 404: return "DELETE_COMPLETE", None
        s = js["stack"]
        if not s["stack_status"].endswith("IN_PROGRESS"): return s["stack_status"], s
        check(time.time() < deadline, "timeout: %s still %s" % (url, s["stack_status"]))
        if on_poll: on_poll()
        time.sleep(0.25)
def delete(url):
    t = time.time(); st, _, js = req("DELETE", url, None, tok)
    check(st == 204, "delete: %s %s" % (st, js))
    status, _ = wait(url, time.time() + 300)
    check(status == "DELETE_COMPLETE", "delete ended " + status)
    return time.time() - t
signals = {}
def signal_handles(url, handle_of):
    # Nodes boot and each runs its handle's curl_cli (as in their user_data). Signal while
    # a WaitCondition waits, one new node (id) every 1.5 s, until it has its count.
    st, _, js = req("GET", url + "/resources", None, tok)
    res = {r["resource_name"]: r for r in (js or {}).get("resources", [])}
    for wc, r in res.items():
        if r["resource_type"] != "OS::Heat::WaitCondition" or r["resource_status"] != "CREATE_IN_PROGRESS":
            continue
        handle = handle_of.get(wc)
        if handle not in res or res[handle]["resource_status"] != "CREATE_COMPLETE":
            continue
        sent = signals.setdefault(handle, [])
        if sent and time.time() - sent[-1] < 1.5: continue
        st, _, a = req("GET", "%s/resources/%s?with_attr=curl_cli" % (url, handle), None, tok)
        cli = a["resource"]["attributes"]["curl_cli"]
        node = "node-%d" % (len(sent) + 1)
        data = json.dumps({"status": "SUCCESS", "reason": "smoke", "id": node, "data": node + " up"})
        out = subprocess.run(["bash", "-c", cli + " --data-binary " + shlex.quote(data) +
                              " -s -o /dev/null -w '%{http_code}'"], capture_output=True, text=True)
        check(out.stdout in ("200", "204"), "signal %s: %r %r" % (handle, out.stdout, out.stderr[-300:]))
        say("%s waits: %s signalled %s by running its curl_cli: HTTP %s" % (wc, node, handle, out.stdout))
        sent.append(time.time())
def handles(url):  # WaitCondition name -> its handle's name, from the stored template
    st, _, t = req("GET", url + "/template", None, tok)
    out = {}
    for n, r in (t.get("resources") or {}).items():
        h = (r.get("properties") or {}).get("handle")
        if r.get("type") == "OS::Heat::WaitCondition" and isinstance(h, dict) and "get_resource" in h:
            out[n] = h["get_resource"]
    return out
name = "smoke-%d" % os.getpid()
t = time.time(); url = create(name, env)
say("POST stacks (fake-env.yaml + %d files): 201" % len(files))
handle_of = handles(url)
status, s = wait(url, time.time() + 300, lambda: signal_handles(url, handle_of))
check(status == "CREATE_COMPLETE", "create ended %s: %s" % (status, s and s.get("stack_status_reason")))
say("CREATE_COMPLETE in %.1fs" % (time.time() - t))
for o in sorted(s.get("outputs") or [], key=lambda o: o["output_key"]):
    check("output_error" not in o, "output %s: %s" % (o["output_key"], o.get("output_error")))
    say("  output %-20s %s" % (o["output_key"], json.dumps(o.get("output_value"))[:100]))
say("DELETE_COMPLETE in %.1fs" % delete(url))
t = time.time(); url = create(name + "-fail", open(os.path.join(ENVDIR, "fake-env-failing.yaml")).read())
status, s = wait(url, time.time() + 300)
check(status == "CREATE_FAILED", "with fake-env-failing.yaml the stack ended " + status)
say("fake-env-failing.yaml: CREATE_FAILED in %.1fs: %s" % (time.time() - t, s["stack_status_reason"]))
say("DELETE_COMPLETE in %.1fs" % delete(url))
say("smoke passed")
PYEOF
}

# ---------------------------------------------------------------------------- env, status
cmd_env() {
  local who=${1:-demo} pw project
  case $who in
    demo) pw=demopass project=demo ;; other) pw=otherpass project=other ;;
    admin) pw=adminpass project=admin ;; disco) pw=discopass project=service ;;
    *) die "env: unknown user '$who' (demo, other, admin, disco)" ;;
  esac
  cat <<EOF
export OS_AUTH_URL=http://127.0.0.1:$KS_PORT/v3
export OS_IDENTITY_API_VERSION=3
export OS_AUTH_TYPE=password
export OS_USERNAME=$who
export OS_PASSWORD=$pw
export OS_PROJECT_NAME=$project
export OS_TENANT_NAME=$project
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export OS_INTERFACE=public
export DISCO_TESTBED_HEAT_URL=http://127.0.0.1:$HEAT_PORT/v1
export DISCO_TESTBED_HEAT_ENV=$HERE/heat-env
EOF
  if [ -s "$RUN/ids.env" ]; then
    local id; id=$(awk -F= -v k="$(echo "$project" | tr a-z A-Z)_PROJECT_ID" '$1==k {print $2}' "$RUN/ids.env")
    [ -z "$id" ] || echo "export OS_PROJECT_ID=$id"
  fi
  # With the node host service up (DISCO_TESTBED_NODES=1 ... up), the vm_nodes tests run.
  local pid st
  if [ -s "$PIDDIR/node-host.pid" ] && read -r pid st < "$PIDDIR/node-host.pid" \
     && [ "$(proc_start "$pid" || echo gone)" = "$st" ]; then
    echo "export DISCO_TESTBED_NODES=1"
  fi
}

cmd_status() {
  local bad=0 n pid st total=0 kb
  say() { printf '%-12s %s\n' "$1" "$2"; }
  for n in "${SERVICES[@]}"; do
    if [ -s "$PIDDIR/$n.pid" ] && read -r pid st < "$PIDDIR/$n.pid" && [ "$(proc_start "$pid" || true)" = "$st" ]; then
      case $n in
        mariadb) mariadb_ping && say $n "answers (pid $pid, socket $RUN/mysql/mysql.sock)" || { say $n "running (pid $pid) but no answer"; bad=1; } ;;
        rabbitmq) port_open "$AMQP_PORT" && say $n "answers (pid $pid, 127.0.0.1:$AMQP_PORT)" || { say $n "running (pid $pid) but no answer"; bad=1; } ;;
        epmd) say $n "running (pid $pid, 127.0.0.1:$EPMD_PORT)" ;;
        keystone) is_http "http://127.0.0.1:$KS_PORT/v3" 200 && say $n "answers (pid $pid, http://127.0.0.1:$KS_PORT/v3)" || { say $n "running (pid $pid) but no answer"; bad=1; } ;;
        heat-api) is_http "http://127.0.0.1:$HEAT_PORT/" 300 && say $n "answers (pid $pid, http://127.0.0.1:$HEAT_PORT/v1)" || { say $n "running (pid $pid) but no answer"; bad=1; } ;;
        heat-engine) engine_registered && say $n "registered (pid $pid)" || { say $n "running (pid $pid), not registered"; bad=1; } ;;
        glance-api) is_http "http://127.0.0.1:$GLANCE_PORT/" 300 && say $n "answers (pid $pid, http://127.0.0.1:$GLANCE_PORT/v2)" || { say $n "running (pid $pid) but no answer"; bad=1; } ;;
        nova-api) is_http "http://127.0.0.1:$NOVA_PORT/" 200 && say $n "answers (pid $pid, http://127.0.0.1:$NOVA_PORT/v2.1)" || { say $n "running (pid $pid) but no answer"; bad=1; } ;;
        node-host) nodes_proxy_up && say $n "watching Heat (pid $pid; $("$PY" "$HERE/node_host.py" list | wc -l) nodes)" || { say $n "running (pid $pid), no proxy on the bridge"; bad=1; } ;;
        fake-cloud) is_http "http://127.0.0.1:$NEUTRON_PORT/" 200 && say $n "answers (pid $pid, neutron :$NEUTRON_PORT)" || { say $n "running (pid $pid) but no answer"; bad=1; } ;;
      esac
      kb=$(ps -o rss= -p "$(members "$pid" | paste -sd, -)" | awk '{s += $1} END {print s + 0}')
      total=$((total + kb))
    else
      say $n "not running"; bad=1
    fi
  done
  [ $total = 0 ] || say memory "$((total / 1024)) MiB RSS in all (ps, every process of every service)"
  return $bad
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env "${2:-demo}" ;;
  status) cmd_status ;;
  smoke) cmd_smoke "${2:-}" ;;
  nodes-image) "$HERE/nodes.sh" image ;;   # node hosts: see nodes.sh, README.md
  nodes-smoke) "$HERE/nodes.sh" smoke ;;
  nodes-heat-smoke) "$HERE/nodes.sh" heat-smoke ;;   # needs `up`
  *) echo "usage: $0 install|up|down|env [demo|other|admin|disco]|status|smoke [TEMPLATE]|nodes-image|nodes-smoke|nodes-heat-smoke" >&2; exit 2 ;;
esac
