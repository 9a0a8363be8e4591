# DISCO node library: composed into every node script, before the component steps.
# It runs each step with its output captured, keeps the node's deployment log, reports
# each stage to DISCO, and signals the stack's wait condition at the end. The same
# library runs on a cloud VM (as root, from cloud-init) and on a local node.
#
# Facts it expects, exported by the composed script: DISCO_CLUSTER_ID, DISCO_NODE,
# DISCO_NODE_GROUP, DISCO_MASTER_ADDRESS; optionally DISCO_REPORT_URL and
# DISCO_REPORT_TOKEN.

DISCO_HOME=${DISCO_HOME:-/opt/disco}
DISCO_LOG_DIR=${DISCO_LOG_DIR:-/var/log/disco}
DISCO_DEPLOYMENT_LOG="$DISCO_LOG_DIR/deployment.log"
export DISCO_HOME DISCO_LOG_DIR DISCO_DEPLOYMENT_LOG
mkdir -p "$DISCO_HOME" "$DISCO_LOG_DIR"

# This node's own address on the cluster network: the one the provider gave it (local
# nodes), else the source address of its route to the master.
disco_node_address() {
  if [ -n "${DISCO_NODE_ADDRESS:-}" ]; then
    printf '%s\n' "$DISCO_NODE_ADDRESS"
    return
  fi
  local address
  address=$(ip -4 route get "${DISCO_MASTER_ADDRESS:-127.0.0.1}" 2>/dev/null \
    | awk '{for (i = 1; i < NF; i++) if ($i == "src") {print $(i + 1); exit}}')
  printf '%s\n' "${address:-$(hostname -I 2>/dev/null | awk '{print $1}')}"
}

disco_log() {
  printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$DISCO_NODE" "$*" >>"$DISCO_DEPLOYMENT_LOG"
}

# Prints $1 as a JSON string.
disco_json() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=$(printf '%s' "$s" | tr -d '\000-\010\013\014\016-\037')
  printf '"%s"' "$s"
}

# disco_report STAGE STATUS [RC] [STDOUT] [STDERR]: tells DISCO how a stage went, with
# the cluster's report token. Never fails the deployment: a report that cannot be sent
# is only logged.
disco_report() {
  [ -n "${DISCO_REPORT_URL:-}" ] || return 0
  local body
  body=$(printf '{"stage": %s, "node": %s, "status": %s, "rc": %s, "output": %s, "error": %s}' \
    "$(disco_json "$1")" "$(disco_json "$DISCO_NODE")" "$(disco_json "$2")" \
    "${3:-null}" "$(disco_json "${4:-}")" "$(disco_json "${5:-}")")
  # The token goes in on stdin (curl -K -), not on the command line any user can see.
  printf 'header = "Authorization: Bearer %s"\n' "${DISCO_REPORT_TOKEN:-}" \
    | curl -fsS -K - --max-time 10 --retry 3 --retry-delay 1 -o /dev/null \
      -H 'Content-Type: application/json' --data-binary "$body" "$DISCO_REPORT_URL" \
      2>>"$DISCO_LOG_DIR/report-errors.log" \
    || disco_log "could not report $1 $2"
}

# disco_expected_slaves: how many slaves the cluster runs on now, as DISCO says: its
# slave count less the slaves DISCO gave up on (one that failed while minslaves still
# held). A master's smoke test waits for this many workers, asking again as it waits.
# DISCO_SLAVE_COUNT when DISCO cannot be asked.
disco_expected_slaves() {
  local answer="" expected=""
  if [ -n "${DISCO_REPORT_URL:-}" ]; then
    answer=$(printf 'header = "Authorization: Bearer %s"\n' "${DISCO_REPORT_TOKEN:-}" \
      | curl -fsS -K - --max-time 5 "$DISCO_REPORT_URL" 2>/dev/null) || answer=""
    expected=$(printf '%s' "$answer" | sed -n 's/.*"expected_slaves": *\([0-9][0-9]*\).*/\1/p')
  fi
  printf '%s\n' "${expected:-$DISCO_SLAVE_COUNT}"
}

# disco_signal SUCCESS|FAILURE REASON: signals the wait condition (once per node).
disco_signal() {
  local body
  body=$(printf '{"status": %s, "reason": %s, "id": %s}' \
    "$(disco_json "$1")" "$(disco_json "$2")" "$(disco_json "$DISCO_NODE")")
  disco_wc_notify "$body" >>"$DISCO_LOG_DIR/signal.log" 2>&1 || disco_log "could not signal $1"
}

disco_fail() {
  disco_log "FAILED: $1"
  disco_signal FAILURE "$DISCO_NODE: $1"
  exit 1
}

# disco_run_step COMPONENT PHASE FUNCTION: runs one step, its standard output in
# $DISCO_LOG_DIR/COMPONENT-PHASE.log and its standard error in ...-PHASE.err; reports
# the step's start and end (with the tails of both); a failing step fails the node.
disco_run_step() {
  local stage="$1 $2" out err rc started
  # A repair starts again only the components it names.
  if [ -n "${DISCO_ONLY_COMPONENTS:-}" ] && [[ " $DISCO_ONLY_COMPONENTS " != *" $1 "* ]]; then
    return 0
  fi
  out="$DISCO_LOG_DIR/$1-$2.log"
  err="$DISCO_LOG_DIR/$1-$2.err"
  started=$(date +%s)
  disco_log "START $stage"
  disco_report "$stage" executing
  set +e
  DISCO_STEP_COMPONENT="$1" "$3" >"$out" 2>"$err" </dev/null
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    disco_log "DONE $stage in $(($(date +%s) - started))s"
    disco_report "$stage" succeeded 0 "$(tail -c 2000 "$out")" "$(tail -c 2000 "$err")"
  else
    disco_log "FAILED $stage (rc $rc) after $(($(date +%s) - started))s"
    local last
    last=$(tail -n 3 "$err" | tr '\n' ' ')
    [ -n "$last" ] || last=$(tail -n 3 "$out" | tr '\n' ' ')
    # The report first, so that the task tree holds the failure (its return code and
    # output) by the time DISCO sees the wait condition and fails the cluster.
    disco_report "$stage" failed "$rc" "$(tail -c 2000 "$out")" "$(tail -c 2000 "$err")"
    disco_signal FAILURE "$DISCO_NODE: $stage failed with return code $rc: $last"
    exit 1
  fi
}

# disco_init_inline NAME SECONDS: the user's init action NAME, its script on standard
# input, written to $DISCO_HOME/init/NAME and run (disco_init_exec).
disco_init_inline() {
  local file="$DISCO_HOME/init/$1"
  install -d -m 0700 "$DISCO_HOME/init" || return
  (umask 077 && cat >"$file") || return
  disco_init_exec "$1" "$2" "$file"
}

# disco_init_url NAME SECONDS URL SHA256: the user's init action NAME: URL downloaded
# (curl, which honours the node's proxy variables) to $DISCO_HOME/init/NAME, checked
# against SHA256, then run (disco_init_exec). A mismatch fails with both checksums.
disco_init_url() {
  local name=$1 secs=$2 url=$3 expected=$4 file actual
  file="$DISCO_HOME/init/$name"
  install -d -m 0700 "$DISCO_HOME/init" || return
  rm -f "$file.part"
  if ! curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 20 -o "$file.part" "$url"; then
    echo "init $name: could not download $url" >&2
    return 1
  fi
  actual=$(sha256sum "$file.part" | cut -d' ' -f1)
  if [ "$actual" != "$expected" ]; then
    rm -f "$file.part"
    echo "init $name: checksum mismatch for $url: expected sha256 $expected, got $actual" >&2
    return 1
  fi
  chmod 0700 "$file.part" && mv -f "$file.part" "$file" || return
  disco_init_exec "$name" "$secs" "$file"
}

# disco_init_exec NAME SECONDS FILE: runs FILE (by its #! line, else with bash) with no
# input, for at most SECONDS (then TERM, and KILL 10 s later); its return code is the
# script's, 124 when it ran out of time.
disco_init_exec() {
  local name=$1 secs=$2 file=$3 rc
  chmod 0700 "$file" || return
  if [ "$(head -c 2 "$file")" = '#!' ]; then
    timeout -k 10 "$secs" "$file" </dev/null
  else
    timeout -k 10 "$secs" bash "$file" </dev/null
  fi
  rc=$?
  if [ "$rc" -eq 124 ]; then
    echo "init $name: stopped after its timeout of ${secs}s" >&2
  fi
  return "$rc"
}

# disco_report_outputs: on a VM's master, the content of the files its components'
# outputs are read from (DISCO_OUTPUT_FILES: paths under $DISCO_HOME, one a line; a
# swarm's join token, say), base64-encoded, sent to DISCO with the report token (POST
# .../outputs) before the node says it is ready. A file missing, a link or one over
# 64 KiB is left out; the content goes on standard input, never on a command line;
# nothing here fails the deployment.
disco_report_outputs() {
  [ -n "${DISCO_REPORT_URL:-}" ] && [ -n "${DISCO_OUTPUT_FILES:-}" ] || return 0
  local body="" sep="" file path
  while IFS= read -r file; do
    path="$DISCO_HOME/$file"
    if [ -n "$file" ] && [ -f "$path" ] && [ ! -L "$path" ] && [ "$(stat -c %s -- "$path")" -le 65536 ]; then
      body+="$sep$(disco_json "$file"): \"$(base64 -w0 -- "$path")\""
      sep=", "
    fi
  done <<<"$DISCO_OUTPUT_FILES"
  [ -n "$body" ] || return 0
  printf '{"files": {%s}}' "$body" \
    | curl -fsS -K <(printf 'header = "Authorization: Bearer %s"\n' "${DISCO_REPORT_TOKEN:-}") \
      --max-time 10 --retry 3 --retry-delay 1 -o /dev/null \
      -H 'Content-Type: application/json' --data-binary @- "${DISCO_REPORT_URL%/report}/outputs" \
      2>>"$DISCO_LOG_DIR/report-errors.log" \
    || disco_log "could not report the outputs' files"
}

disco_finish() {
  disco_log "READY"
  disco_report_outputs
  disco_agent_install || disco_log "could not install DISCO's agent"
  disco_health_reporter_install || disco_log "could not install DISCO's health reporter"
  # The wait condition first: the report tells DISCO to look at it.
  disco_signal SUCCESS "$DISCO_NODE is ready"
  disco_report "node ready" succeeded 0
}

# disco_agent_install: on a VM, DISCO's agent: a systemd timer that asks DISCO every 20 s
# whether this node has steps to run, and runs the ones DISCO gives it, as root: a
# repair's (`GET .../health/repair?node=`: the start and smoke steps of the node's failing
# components, once per repair), and on a slave, when it leaves the cluster at a scale-in,
# its decommission steps (once; DISCO removes the VM after). The steps report as the node
# script's do and end with "node ready". Nothing on local nodes (DISCO runs their steps
# itself), without systemd or root, or where DISCO is not asked over https (the agent
# runs as root what the answer holds).
disco_agent_install() {
  # The agent runs as root what DISCO answers: only over https.
  case "${DISCO_REPORT_URL:-}" in https://*) ;; *) return 0 ;; esac
  [ -z "${DISCO_NODE_DIR:-}" ] && [ "$(id -u)" = 0 ] || return 0
  command -v systemctl >/dev/null 2>&1 || return 0
  # The token stays root's: in a file of its own, not on a command line.
  install -d -m 0700 /etc/disco /var/lib/disco/agent
  (
    umask 077
    printf 'DISCO_REPORT_URL=%s\nDISCO_REPORT_TOKEN=%s\nDISCO_NODE=%s\nDISCO_NODE_GROUP=%s\n' \
      "$DISCO_REPORT_URL" "${DISCO_REPORT_TOKEN:-}" "$DISCO_NODE" "$DISCO_NODE_GROUP" >/etc/disco/agent.env
  )
  cat >/usr/local/sbin/disco-agent <<'AGENT'
#!/bin/bash
# DISCO's agent on a VM (installed by the node script): asks DISCO whether this node has
# a repair's steps to run, or, on a slave, whether it leaves the cluster; runs what DISCO
# gives, once each.
set -euo pipefail
: "${DISCO_REPORT_URL:?}" "${DISCO_REPORT_TOKEN:?}" "${DISCO_NODE:?}"
state=/var/lib/disco/agent
ask() {
  printf 'header = "Authorization: Bearer %s"\n' "$DISCO_REPORT_TOKEN" \
    | curl -fsS -K - --max-time 10 -G --data-urlencode "node=$DISCO_NODE" "$1"
}
# A repair: its id and script.
if answer=$(ask "${DISCO_REPORT_URL%/report}/health/repair"); then
  id=$(printf '%s' "$answer" | python3 -c '
import json, re, sys
repair = json.load(sys.stdin).get("repair") or {}
print(re.sub(r"[^0-9A-Za-z.:-]", "", repair.get("id", "")))
') || id=""
  if [ -n "$id" ] && [ ! -e "$state/repaired-$id" ]; then
    printf '%s' "$answer" | python3 -c '
import json, sys
sys.stdout.write((json.load(sys.stdin).get("repair") or {}).get("script", ""))
' >"$state/repair.sh.partial"
    if [ -s "$state/repair.sh.partial" ]; then
      mv -f "$state/repair.sh.partial" "$state/repair.sh"
      touch "$state/repaired-$id"
      bash "$state/repair.sh" >>/var/log/disco/repair.log 2>&1 || true
    fi
  fi
fi
[ "${DISCO_NODE_GROUP:-}" = slaves ] || exit 0
[ -e "$state/decommissioned" ] && exit 0
answer=$(ask "$DISCO_REPORT_URL") || exit 0
printf '%s' "$answer" | python3 -c '
import json, sys
step = json.load(sys.stdin).get("decommission") or {}
sys.stdout.write(step.get("script", ""))
' >"$state/decommission.sh.partial" || exit 0
[ -s "$state/decommission.sh.partial" ] || exit 0
mv -f "$state/decommission.sh.partial" "$state/decommission.sh"
if bash "$state/decommission.sh" >>/var/log/disco/decommission.log 2>&1; then
  touch "$state/decommissioned"
fi
AGENT
  chmod 0755 /usr/local/sbin/disco-agent
  printf '[Unit]\nDescription=DISCO agent: asks whether this node has steps to run\nAfter=network-online.target\n\n[Service]\nType=oneshot\nEnvironmentFile=/etc/disco/agent.env\nExecStart=/usr/local/sbin/disco-agent\n' \
    >/etc/systemd/system/disco-agent.service
  printf '[Unit]\nDescription=DISCO agent, every 20 s\n\n[Timer]\nOnBootSec=30\nOnUnitActiveSec=20\nAccuracySec=5\n\n[Install]\nWantedBy=timers.target\n' \
    >/etc/systemd/system/disco-agent.timer
  systemctl daemon-reload
  systemctl enable --now disco-agent.timer
  # DISCO repairs, and waits at a scale-in for, the nodes whose agent runs, and only those.
  disco_report "agent ready" succeeded 0
}

# disco_health_heartbeat: runs this node's health checks against its own address and
# prints the heartbeat DISCO takes (POST .../health): {"node", "checks": [{"component",
# "check", "passing", "output"}], "activity": [{"component", "answer"}]}, the answers
# being the last line each activity step (DISCO_ACTIVITY_STEPS) printed. The checks are DISCO_HEALTH_CHECKS, one per line,
# "COMPONENT tcp PORT" or "COMPONENT http PORT PATH STATUS"; and each systemd service
# the node's steps started (disco_service records them) is checked to be active.
disco_health_heartbeat() {
  local host component kind port path status name passing output code checks="" sep=""
  host=$(disco_node_address)
  while read -r component kind port path status; do
    [ -n "$component" ] || continue
    case $kind in
      tcp)
        name="tcp $port"
        if timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
          passing=true output=""
        else
          passing=false output="no answer on $host:$port"
        fi
        ;;
      http)
        name="http $port $path $status"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$host:$port$path" || true)
        if [ "$code" = "$status" ]; then
          passing=true output=""
        else
          passing=false output="http://$host:$port$path answered ${code:-nothing}"
        fi
        ;;
      *) continue ;;
    esac
    checks+="$sep{\"component\": $(disco_json "$component"), \"check\": $(disco_json "$name"), \"passing\": $passing, \"output\": $(disco_json "$output")}"
    sep=", "
  done <<<"${DISCO_HEALTH_CHECKS:-}"
  local record unit
  for record in "${DISCO_SERVICES_DIR:-/var/lib/disco/services}"/*; do
    [ -f "$record" ] || continue
    unit=$(basename "$record")
    read -r component <"$record" || component=""
    [ -n "$component" ] || continue
    if systemctl is-active --quiet "disco-$unit.service" 2>/dev/null; then
      passing=true output=""
    else
      passing=false
      output="$(systemctl is-active "disco-$unit.service" 2>/dev/null || true); see journalctl -u disco-$unit"
    fi
    checks+="$sep{\"component\": $(disco_json "$component"), \"check\": $(disco_json "service disco-$unit"), \"passing\": $passing, \"output\": $(disco_json "$output")}"
    sep=", "
  done
  # Whether the node's components are in use: each activity step's last line.
  local activity="" step function answer
  sep=""
  for step in ${DISCO_ACTIVITY_STEPS:-}; do
    component=${step%%:*} function=${step#*:}
    declare -F "$function" >/dev/null || continue
    answer=$("$function" 2>/dev/null | tail -n 1) || answer=""
    activity+="$sep{\"component\": $(disco_json "$component"), \"answer\": $(disco_json "$answer")}"
    sep=", "
  done
  printf '{"node": %s, "checks": [%s], "activity": [%s]}\n' "$(disco_json "$DISCO_NODE")" "$checks" "$activity"
}

# disco_health_report: sends this node's heartbeat to DISCO with the cluster's token.
disco_health_report() {
  [ -n "${DISCO_REPORT_URL:-}" ] || return 0
  local body
  body=$(disco_health_heartbeat)
  printf 'header = "Authorization: Bearer %s"\n' "${DISCO_REPORT_TOKEN:-}" \
    | curl -fsS -K - --max-time 10 -o /dev/null -H 'Content-Type: application/json' \
      --data-binary "$body" "${DISCO_REPORT_URL%/report}/health"
}

# disco_health_reporter_install: on a VM, DISCO's health reporter: a systemd timer that
# sends the node's heartbeat (disco_health_report) every 30 s for as long as the node
# lives. It runs nothing DISCO answers. Nothing on local nodes (DISCO runs their checks
# itself), without systemd or root, or without a report URL.
disco_health_reporter_install() {
  [ -n "${DISCO_REPORT_URL:-}" ] || return 0
  [ -z "${DISCO_NODE_DIR:-}" ] && [ "$(id -u)" = 0 ] || return 0
  command -v systemctl >/dev/null 2>&1 || return 0
  install -d -m 0700 /etc/disco
  (
    umask 077
    printf 'DISCO_REPORT_URL=%s\nDISCO_REPORT_TOKEN=%s\nDISCO_NODE=%s\nDISCO_MASTER_ADDRESS=%s\n' \
      "$DISCO_REPORT_URL" "${DISCO_REPORT_TOKEN:-}" "$DISCO_NODE" "${DISCO_MASTER_ADDRESS:-}" \
      >/etc/disco/health.env
    printf '%s\n' "${DISCO_HEALTH_CHECKS:-}" >/etc/disco/health-checks
  )
  {
    printf '#!/bin/bash\n# DISCO health reporter (installed by the node script): this node'"'"'s checks to DISCO.\n'
    printf 'set -uo pipefail\nDISCO_HEALTH_CHECKS=$(cat /etc/disco/health-checks)\n'
    declare -f disco_json disco_node_address disco_health_heartbeat disco_health_report
    # The activity steps, as the node script defined them (they read root-only files,
    # not the node script's secret parameters).
    printf 'DISCO_HOME=%q\nDISCO_ACTIVITY_STEPS=%q\n' "$DISCO_HOME" "${DISCO_ACTIVITY_STEPS:-}"
    local step
    for step in ${DISCO_ACTIVITY_STEPS:-}; do
      declare -f "${step#*:}" || true
    done
    printf 'disco_health_report\n'
  } >/usr/local/sbin/disco-health
  chmod 0700 /usr/local/sbin/disco-health
  printf '[Unit]\nDescription=DISCO health reporter: this node'"'"'s checks to DISCO\nAfter=network-online.target\n\n[Service]\nType=oneshot\nEnvironmentFile=/etc/disco/health.env\nExecStart=/usr/local/sbin/disco-health\n' \
    >/etc/systemd/system/disco-health.service
  printf '[Unit]\nDescription=DISCO health reporter, every 30 s\n\n[Timer]\nOnActiveSec=5\nOnUnitActiveSec=30\nAccuracySec=5\n\n[Install]\nWantedBy=timers.target\n' \
    >/etc/systemd/system/disco-health.timer
  systemctl daemon-reload
  systemctl enable --now disco-health.timer
}

# disco_wait_tcp HOST PORT [SECONDS]: waits until HOST:PORT accepts connections.
disco_wait_tcp() {
  local deadline=$(($(date +%s) + ${3:-600}))
  until timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "gave up waiting for $1:$2" >&2; return 1; }
    sleep 2
  done
}

# disco_wait_http URL [SECONDS] [STATUS]: waits until URL answers STATUS (default 200).
disco_wait_http() {
  local deadline=$(($(date +%s) + ${2:-600})) code
  while true; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true)
    [ "$code" = "${3:-200}" ] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || { echo "gave up waiting for $1 (last status $code)" >&2; return 1; }
    sleep 2
  done
}

# disco_apt_install PACKAGE...: installs Debian/Ubuntu packages, waiting for apt's lock
# (cloud-init and unattended-upgrades hold it at first boot). A mirror or proxy that
# fails for a moment is retried: each download (Acquire::Retries), and the index update
# as a whole, which apt otherwise passes with a warning, leaving an install with "no
# installation candidate" (Error-Mode=any makes a failed index fail it; older apt
# ignores the option).
disco_apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local try
  for try in 1 2 3; do
    apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=5 -o APT::Update::Error-Mode=any update -q && break
    echo "apt-get update failed (attempt $try of 3)" >&2
    sleep $((try * 5))
  done
  apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=5 install -y -q --no-install-recommends "$@"
}

# disco_download URL DEST: downloads with retries.
disco_download() {
  curl -fsSL --retry 5 --retry-delay 5 --connect-timeout 20 -o "$2" "$1"
}

# disco_service NAME USER COMMAND [KEY=VALUE...]: runs COMMAND as a systemd service
# disco-NAME under USER, restarted on failure, started now and at boot. A service that
# was already running is restarted, so that a rerun applies the configuration just
# written.
disco_service() {
  local name=$1 user=$2 command=$3 unit was
  shift 3
  unit="/etc/systemd/system/disco-$name.service"
  was=$(systemctl is-active "disco-$name.service" 2>/dev/null || true)
  {
    printf '[Unit]\nDescription=DISCO %s\nAfter=network-online.target\nWants=network-online.target\n\n' "$name"
    printf '[Service]\nUser=%s\nExecStart=%s\nRestart=on-failure\nRestartSec=5\nLimitNOFILE=65536\n' "$user" "$command"
    local pair
    for pair in "$@"; do printf 'Environment="%s"\n' "$pair"; done
    printf '\n[Install]\nWantedBy=multi-user.target\n'
  } >"$unit"
  # Which component's step runs it: the health reporter checks it in its name.
  mkdir -p "${DISCO_SERVICES_DIR:-/var/lib/disco/services}"
  printf '%s\n' "${DISCO_STEP_COMPONENT:-}" >"${DISCO_SERVICES_DIR:-/var/lib/disco/services}/$name"
  systemctl daemon-reload
  systemctl enable --now "disco-$name.service"
  if [ "$was" = active ]; then
    systemctl restart "disco-$name.service"
  fi
}

# disco_java_home: the installed JDK/JRE to use, OpenJDK 11 first, then 17.
disco_java_home() {
  local dir
  for dir in /usr/lib/jvm/java-11-openjdk-* /usr/lib/jvm/java-17-openjdk-*; do
    if [ -x "$dir/bin/java" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  return 1
}

# disco_ensure_java: OpenJDK from apt unless disco_java_home finds one: the 11 headless JRE
# where the release has it, else the 17 one.
disco_ensure_java() {
  disco_java_home >/dev/null && return 0
  disco_apt_install ca-certificates curl || return
  local candidate
  for candidate in openjdk-11-jre-headless openjdk-17-jre-headless; do
    if [[ $(apt-cache policy "$candidate" 2>/dev/null) =~ Candidate:\ [0-9] ]]; then
      disco_apt_install "$candidate" || return
      disco_java_home >/dev/null && return 0
      echo "$candidate is installed, but no Java is in /usr/lib/jvm" >&2
      return 3
    fi
  done
  echo "neither openjdk-11-jre-headless nor openjdk-17-jre-headless is available" >&2
  return 3
}

# disco_sha512_from FILE: the SHA-512 in an Apache .sha512 file, in any of the three layouts
# the projects have published: "HEX  name", "SHA512 (name) = HEX", "name: HE X..." (gpg).
disco_sha512_from() {
  local text
  text=$(tr -d '\r' <"$1")
  text=${text#"${text%%[![:space:]]*}"}
  case $text in
    *=*) text=${text##*=} ;;
    *:*) text=${text#*:} ;;
    *) text=${text%%[[:space:]]*} ;;
  esac
  text=$(printf '%s' "$text" | tr -d '[:space:]' | tr 'A-F' 'a-f')
  if [[ ! $text =~ ^[0-9a-f]{128}$ ]]; then
    echo "no SHA-512 found in $1" >&2
    return 1
  fi
  printf '%s\n' "$text"
}

# disco_fetch_verified URL DEST: DEST is URL's content, checked against URL.sha512. A DEST
# already present with the right checksum is kept (reruns do not download again).
disco_fetch_verified() {
  local url=$1 dest=$2 expected actual
  disco_download "$url.sha512" "$dest.sha512" || return
  expected=$(disco_sha512_from "$dest.sha512") || return
  if [ -f "$dest" ]; then
    actual=$(sha512sum "$dest" | cut -d' ' -f1)
    if [ "$actual" = "$expected" ]; then
      return 0
    fi
  fi
  disco_download "$url" "$dest.part" || return
  actual=$(sha512sum "$dest.part" | cut -d' ' -f1)
  if [ "$actual" != "$expected" ]; then
    rm -f "$dest.part"
    echo "checksum mismatch for $url: expected $expected, got $actual" >&2
    return 1
  fi
  mv "$dest.part" "$dest"
}

# disco_install_apache_release [--owner USER] [--exclude PATTERN]... PATH DEST: the release
# archive (.tar.gz or .tgz) at $DISCO_APACHE_MIRROR/PATH, checked against the SHA-512
# published beside it (PATH.sha512), unpacked into DEST without its top directory and
# without the members matching each PATTERN (tar --exclude), owned by root (or by USER and
# its group), and marked installed. A DEST marked installed is kept: a rerun downloads
# nothing. DISCO_APACHE_MIRROR is the base URL of the Apache archive or of a mirror with
# its layout (default https://archive.apache.org/dist). PATH is relative to it, e.g.
# spark/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz.
disco_install_apache_release() {
  local owner="" excludes=() mirror path dest archive
  while [ "$#" -gt 2 ]; do
    case $1 in
      --owner) owner=$2 ;;
      --exclude) excludes+=("--exclude=$2") ;;
      *) echo "disco_install_apache_release: unknown option $1" >&2; return 2 ;;
    esac
    shift 2
  done
  if [ "$#" -ne 2 ]; then
    echo "usage: disco_install_apache_release [--owner USER] [--exclude PATTERN]... PATH DEST" >&2
    return 2
  fi
  path=$1 dest=$2
  if [ -f "$dest/.disco-installed" ]; then
    echo "$dest: installed already"
    return 0
  fi
  mirror=${DISCO_APACHE_MIRROR:-https://archive.apache.org/dist}
  mirror=${mirror%/}
  if [[ ! $mirror =~ ^https?://[^[:space:]]+$ ]]; then
    echo "the Apache mirror must be an http:// or https:// URL, got '$mirror'" >&2
    return 2
  fi
  archive=$DISCO_HOME/downloads/${path##*/}
  install -d -m 0755 "$DISCO_HOME/downloads" || return
  echo "downloading $mirror/$path"
  disco_fetch_verified "$mirror/$path" "$archive" || return
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial" || return
  tar -xzf "$archive" -C "$dest.partial" --strip-components=1 --no-same-owner "${excludes[@]}" \
    || return
  if [ -n "$owner" ]; then
    chown -R "$owner:$owner" "$dest.partial" || return
  fi
  # Marked before the move: a DEST with the mark is always complete.
  touch "$dest.partial/.disco-installed" || return
  rm -rf "$dest"
  mv "$dest.partial" "$dest" || return
  rm -f "$archive" "$archive.sha512"
}

# disco_ensure_user NAME HOME: a system user with its own group and home, created once.
disco_ensure_user() {
  if ! id -u "$1" >/dev/null 2>&1; then
    if getent group "$1" >/dev/null; then
      useradd --system --gid "$1" --home-dir "$2" --shell /bin/bash "$1"
    else
      useradd --system --user-group --home-dir "$2" --shell /bin/bash "$1"
    fi
  fi
  install -d -o "$1" -g "$1" -m 0755 "$2"
}

# disco_secret_file PATH [VALUE]: PATH holds a secret, readable by its owner only: VALUE
# when given (letters, digits, . _ ~ -), else the one PATH already holds, else 32 random
# bytes in hex, made once. The file is written whole (a temporary file created 0600, then
# renamed), so it is never readable by others, nor seen half-written, whatever the umask.
# The secret is never printed: read it from PATH.
disco_secret_file() {
  local file=$1 value=${2:-} tmp
  if [ -z "$value" ] && [ -s "$file" ]; then
    chmod 0600 "$file" || return
    echo "keeping the secret in $file"
    return 0
  fi
  if [ -n "$value" ] && [[ ! $value =~ ^[A-Za-z0-9._~-]+$ ]]; then
    echo "the secret for $file may only contain letters, digits and . _ ~ - (not shown)" >&2
    return 2
  fi
  tmp=$(mktemp "$file.XXXXXX") || return
  chmod 0600 "$tmp" || { rm -f "$tmp"; return 1; }
  if [ -n "$value" ]; then
    printf '%s' "$value" >"$tmp"
  else
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$tmp"
  fi
  if [ ! -s "$tmp" ] || ! mv -f "$tmp" "$file"; then
    rm -f "$tmp"
    echo "could not write the secret to $file" >&2
    return 1
  fi
  if [ -n "$value" ]; then
    echo "secret from the parameter stored in $file"
  else
    echo "secret generated and stored in $file"
  fi
}

# disco_private_file PATH: PATH holds what comes on standard input (a used cluster's
# client configuration, say), readable by its owner only, written whole (a temporary
# file created 0600, then renamed). The content is never printed.
disco_private_file() {
  local file=$1 tmp
  tmp=$(mktemp "$file.XXXXXX") || return
  chmod 0600 "$tmp" || { rm -f "$tmp"; return 1; }
  if ! cat >"$tmp" || ! mv -f "$tmp" "$file"; then
    rm -f "$tmp"
    echo "could not write $file" >&2
    return 1
  fi
}
