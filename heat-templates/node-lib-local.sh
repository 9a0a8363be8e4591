# DISCO local node library: added after node-lib.sh when the local provider runs a node
# as a group of processes on this machine. Nothing here needs root: software comes from
# PyPI into virtual environments, services are background processes in their own
# sessions, and the wait condition is a file.
#
# Set by the provider: DISCO_NODE_DIR (this node's directory), DISCO_NODE_ADDRESS (its
# loopback address), DISCO_SHARED_DIR (a directory every node of the cluster shares),
# DISCO_VENV_DIR (virtual environments shared by every cluster), DISCO_PYTHON, and
# DISCO_HOME, DISCO_LOG_DIR and TMPDIR under the node's directory. When the cluster runs
# as a user of its own, DISCO_VENV_BUILDER: the directory where DISCO's builder of
# virtual environments (another user, running the install steps before the nodes)
# writes its log and its exit code.

: "${DISCO_NODE_DIR:?}" "${DISCO_NODE_ADDRESS:?}" "${DISCO_VENV_DIR:?}" "${DISCO_SHARED_DIR:?}"
mkdir -p "$DISCO_NODE_DIR/pids" "$DISCO_NODE_DIR/signal" "$DISCO_SHARED_DIR"

# The wait condition of a local node: signal/signal.json in its directory, written whole.
disco_local_signal() {
  [ "${1:-}" = --data-binary ] && shift
  printf '%s\n' "$1" >"$DISCO_NODE_DIR/signal/signal.json.partial"
  mv -f "$DISCO_NODE_DIR/signal/signal.json.partial" "$DISCO_NODE_DIR/signal/signal.json"
}

# disco_venv NAME VERSION REQUIREMENT...: sets DISCO_VENV to a virtual environment with
# the requirements installed from PyPI. It is made once per NAME and VERSION and shared
# by every cluster on this machine; a cluster that needs one being made waits for it.
# A cluster running as a user of its own cannot write the environments: it waits for
# DISCO's builder to make them.
disco_venv() {
  local name=$1 version=$2 dir lock
  shift 2
  dir="$DISCO_VENV_DIR/$name-$version"
  if [[ ! $version =~ ^[A-Za-z0-9.]+$ ]]; then
    # A specifier (>=2025.1): its characters cannot name a directory, and two specifiers
    # must not share one, so its checksum goes along.
    dir="$DISCO_VENV_DIR/$name-${version//[^A-Za-z0-9.]/_}-$(printf '%s' "$version" | cksum | cut -d' ' -f1)"
  fi
  if [ -n "${DISCO_VENV_BUILDER:-}" ]; then
    until [ -f "$dir/.disco-complete" ]; do
      if [ -f "$DISCO_VENV_BUILDER/exit" ]; then
        [ -f "$dir/.disco-complete" ] && break
        echo "DISCO's builder of virtual environments ended (exit code $(cat "$DISCO_VENV_BUILDER/exit")) without making $dir; the end of its log:" >&2
        tail -n 20 "$DISCO_VENV_BUILDER/log" >&2 || true
        return 1
      fi
      sleep 0.5
    done
    echo "using $dir (made by DISCO's builder)"
    export DISCO_VENV=$dir
    return 0
  fi
  mkdir -p "$DISCO_VENV_DIR"
  exec {lock}>"$dir.lock"
  flock "$lock"
  if [ -f "$dir/.disco-complete" ]; then
    echo "using $dir"
  else
    echo "installing $* from PyPI into $dir (once: later clusters reuse it)"
    rm -rf "$dir"
    "${DISCO_PYTHON:-python3}" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    printf '%s\n' "$@" >"$dir/.disco-complete"
    echo "installed in $dir"
  fi
  exec {lock}>&-
  export DISCO_VENV=$dir
}

# disco_start_time PID: the process's start time (clock ticks after boot, /proc/PID/stat
# field 22), which tells it apart from a later process given the same PID. Empty when
# there is no such process or it is a zombie.
disco_start_time() {
  local stat fields
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
  read -r -a fields <<<"${stat##*) }"
  [ "${fields[0]}" != Z ] || return 0
  printf '%s' "${fields[19]}"
}

# disco_daemon NAME COMMAND...: runs COMMAND in the background in a session and process
# group of its own, its output appended to $DISCO_LOG_DIR/NAME.log, and records
# "PID START_TIME COMPONENT" in $DISCO_NODE_DIR/pids/NAME, where the provider finds it to watch it
# and to stop it with the cluster. A daemon of that name still running is stopped first.
disco_daemon() {
  local name=$1 pid
  shift
  disco_daemon_stop "$name"
  setsid "$@" >>"$DISCO_LOG_DIR/$name.log" 2>&1 </dev/null &
  pid=$!
  # The component whose step starts it, for the cluster's health and its repair.
  printf '%s %s %s\n' "$pid" "$(disco_start_time "$pid")" "${DISCO_STEP_COMPONENT:-}" >"$DISCO_NODE_DIR/pids/$name.partial"
  mv -f "$DISCO_NODE_DIR/pids/$name.partial" "$DISCO_NODE_DIR/pids/$name"
  echo "$name started (pid $pid; log $DISCO_LOG_DIR/$name.log)"
}

# disco_daemon_alive NAME: whether the recorded process is still the one started.
disco_daemon_alive() {
  local pid start
  [ -f "$DISCO_NODE_DIR/pids/$1" ] || return 1
  read -r pid start _ <"$DISCO_NODE_DIR/pids/$1" || return 1
  [ -n "$start" ] && [ "$(disco_start_time "$pid")" = "$start" ]
}

# disco_daemon_stop NAME: SIGTERM to the daemon's process group, SIGKILL after 10 s.
disco_daemon_stop() {
  local pid start
  [ -f "$DISCO_NODE_DIR/pids/$1" ] || return 0
  read -r pid start _ <"$DISCO_NODE_DIR/pids/$1" || return 0
  if disco_daemon_alive "$1"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      disco_daemon_alive "$1" || break
      sleep 0.25
    done
    if disco_daemon_alive "$1"; then
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$DISCO_NODE_DIR/pids/$1"
}

# disco_daemon_wait NAME SECONDS COMMAND...: runs COMMAND every fifth of a second until it
# succeeds. Fails with the end of the daemon's log as soon as the daemon has stopped,
# and after SECONDS.
disco_daemon_wait() {
  local name=$1 deadline=$(($(date +%s) + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ! disco_daemon_alive "$name"; then
      echo "$name stopped; the end of its log ($DISCO_LOG_DIR/$name.log):" >&2
      tail -n 30 "$DISCO_LOG_DIR/$name.log" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$name: gave up waiting for: $*" >&2
      return 1
    fi
    sleep 0.2
  done
}

# disco_tcp_open HOST PORT: whether HOST:PORT accepts a connection now. Loopback
# answers at once, so no timeout (and no process) is needed.
disco_tcp_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# disco_wait_until SECONDS WHAT COMMAND...: runs COMMAND every fifth of a second until it
# succeeds; fails after SECONDS, saying what it waited for.
disco_wait_until() {
  local seconds=$1 what=$2 deadline
  deadline=$(($(date +%s) + seconds))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "gave up after $seconds s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

# disco_local_java_home: the JDK/JRE of the java on this machine's PATH.
disco_local_java_home() {
  local java
  java=$(command -v java) || return 1
  dirname "$(dirname "$(readlink -f "$java")")"
}
