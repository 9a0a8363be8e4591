#!/usr/bin/env bash
# Node hosts for the test bed: a cached Debian 12 root file system, and system containers
# (systemd-nspawn --boot) booted from copy-on-write overlays of it on the bridge that
# plays the cluster network, with an HTTP proxy (tinyproxy) as their only way out.
#
#   tests/testbed/nodes.sh image            # debootstrap the image once (cached)
#   tests/testbed/nodes.sh net-up|net-down  # bridge discobr0 10.251.0.1/16 + proxy on it
#   tests/testbed/nodes.sh smoke            # two nodes, user data, proxy, teardown checks
#   tests/testbed/nodes.sh spark-by-hand    # spark 1+2 by hand in nodes: stage times
#   tests/testbed/nodes.sh dask-by-hand     # dask 1+2 (pip through the proxy), the same
#   tests/testbed/nodes.sh jupyter-by-hand  # jupyter on a master alone, the same
#   tests/testbed/nodes.sh down             # every node container, the proxy, the bridge
#
# openstack.sh calls these as `nodes-image`, `nodes-smoke`; containers themselves are
# started and stopped by node_host.py. See README.md ("Node hosts").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_DIR=${DISCO_TESTBED_DIR:-/var/tmp/disco-testbed}
NODES=$TB_DIR/nodes               # kept across `up`s, like venv/
ROOTFS=$NODES/rootfs
MIRROR=${DISCO_TESTBED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
NICE=${DISCO_TESTBED_NODES_NICE:-10}
# What the node scripts assume of a cloud image (heat-templates/node-lib.sh,
# frameworks/*/install.sh): systemd, curl with CA certificates, python3, sudo, sshd,
# useradd (passwd, essential), tar; iproute2 and ping for the network checks.
IMAGE_PKGS=(systemd systemd-sysv dbus iproute2 iputils-ping ca-certificates curl python3 sudo
            openssh-server procps)
IMAGE_VERSION=1   # bump when the image's contents or set-up change

die() { echo "nodes.sh: $*" >&2; exit 1; }
image_stamp() { echo "bookworm $IMAGE_VERSION ${IMAGE_PKGS[*]}"; }

cmd_image() {
  if [ "$(cat "$ROOTFS/.disco-image-stamp" 2>/dev/null)" = "$(image_stamp)" ]; then
    echo "node image ready: $ROOTFS"; return 0
  fi
  if ! { command -v debootstrap && command -v systemd-nspawn && command -v tinyproxy; } >/dev/null; then
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then  # no system-wide tinyproxy started by the package
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    fi
    nice -n "$NICE" apt-get update -qq
    nice -n "$NICE" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      debootstrap systemd-container tinyproxy >/dev/null
    [ $made_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
  fi
  local t0=$SECONDS tmp=$NODES/rootfs.new
  mkdir -p "$NODES"; rm -rf "$tmp"
  echo "debootstrap bookworm into $tmp (${IMAGE_PKGS[*]})"
  nice -n "$NICE" debootstrap --variant=minbase --include="$(IFS=,; echo "${IMAGE_PKGS[*]}")" \
    bookworm "$tmp" "$MIRROR" > "$NODES/debootstrap.log" 2>&1 \
    || { tail -n 20 "$NODES/debootstrap.log" >&2; die "debootstrap failed (log: $NODES/debootstrap.log)"; }
  configure_image "$tmp"
  rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*_Packages
  image_stamp > "$tmp/.disco-image-stamp"
  rm -rf "$ROOTFS"; mv "$tmp" "$ROOTFS"
  echo "node image built in $((SECONDS - t0)) s: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
}

# What a cloud image has and debootstrap does not: a user-data runner as cloud-init's with
# user_data_format RAW, networking from a file the node host writes, a quiet console.
configure_image() {
  local r=$1
  install -d "$r/var/lib/cloud/instance" "$r/usr/local/sbin"
  cat > "$r/usr/local/sbin/disco-run-user-data" <<'EOF'
#!/bin/sh
# As cloud-init with user_data_format RAW: run the instance's user data once, at the first
# boot, if it is a script (starts with "#!"); its output goes to cloud-init-output.log.
ud=/var/lib/cloud/instance/user-data.txt
done=/var/lib/cloud/instance/boot-finished
[ -e "$done" ] && exit 0
if [ -s "$ud" ] && [ "$(head -c 2 "$ud")" = '#!' ]; then
  chmod 700 "$ud"
  echo "user data started $(date -u +%FT%T.%NZ)" >> /var/log/cloud-init-output.log
  "$ud" >> /var/log/cloud-init-output.log 2>&1; rc=$?
  echo "user data finished $(date -u +%FT%T.%NZ) rc=$rc" >> /var/log/cloud-init-output.log
else
  echo "user data: none, or not a script" >> /var/log/cloud-init-output.log
fi
date -u +%FT%T.%NZ > "$done"
EOF
  chmod 755 "$r/usr/local/sbin/disco-run-user-data"
  cat > "$r/etc/systemd/system/disco-user-data.service" <<'EOF'
[Unit]
Description=Run the instance's user data once (as cloud-init, user_data_format RAW)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
EnvironmentFile=-/etc/environment
ExecStart=/usr/local/sbin/disco-run-user-data
RemainAfterExit=yes
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
  chroot "$r" systemctl enable disco-user-data.service systemd-networkd.service systemd-networkd-wait-online.service >/dev/null 2>&1
  # The node host writes /etc/systemd/network/host0.network (address, no gateway), the
  # proxy settings, the hostname and the user data into each node's overlay.
  chroot "$r" systemctl mask console-getty.service getty@.service systemd-resolved.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
  echo 'root:*' | chroot "$r" chpasswd -e
  : > "$r/etc/machine-id"
}

NH() { "${DISCO_TESTBED_PYTHON:-/usr/bin/python3}" "$HERE/node_host.py" "$@"; }
RUN_NODES=$TB_DIR/run/nodes
MIRROR_PORT=${DISCO_TESTBED_MIRROR_PORT:-8890}

# smoke: two nodes on the bridge. A's user data fetches PyPI's pip index through the proxy,
# pings B and fetches a page B serves (its own user data starts the server), checks that
# the proxy refuses a host it does not allow and that a direct connection fails, and
# writes what it saw to a result file; then both are stopped and nothing may be left.
cmd_smoke() {
  local t0=$SECONDS a=smoke-a b=smoke-b addr_a=10.251.0.11 addr_b=10.251.0.12 ud
  cmd_image
  ud=$(mktemp -d)
  trap 'NH stop '$a' || true; NH stop '$b' || true; rm -rf '"$ud"'' EXIT
  cat > "$ud/b" <<EOF
#!/bin/sh
mkdir -p /srv/www && echo "served by \$(hostname)" > /srv/www/index.html
setsid python3 -m http.server 8080 --bind $addr_b --directory /srv/www >/var/log/www.log 2>&1 < /dev/null &
EOF
  cat > "$ud/a" <<EOF
#!/bin/sh
# user data of $a (run once at boot with /etc/environment's proxy settings)
t=\$(date +%s.%N)
out=/var/log/disco-smoke.json
code() { curl -s -o /dev/null -m 20 -w '%{http_code}' "\$@"; echo " rc=\$?"; }
pypi=\$(curl -s -m 30 https://pypi.org/simple/pip/ | grep -c 'pip-[0-9].*whl')
ping=\$(ping -c 2 -W 2 $addr_b >/dev/null 2>&1 && echo ok || echo fail)
for i in \$(seq 1 60); do peer=\$(curl -s -m 2 http://$addr_b:8080/) && break; sleep 0.5; done
refused=\$(code https://example.com/)
direct=\$(code --noproxy '*' http://1.1.1.1/)
direct_pypi=\$(code --noproxy '*' https://pypi.org/simple/pip/)
mirror_get=\$(code http://10.251.0.1:${MIRROR_PORT}/)
mirror_post=\$(code -X POST --data x http://10.251.0.1:${MIRROR_PORT}/)
cat > \$out.new <<JSON
{"started": \$t, "host": "\$(hostname)", "pypi_wheels": \$pypi, "ping": "\$ping", "peer": "\$peer",
 "example_com": "\$refused", "direct_ip": "\$direct", "direct_pypi": "\$direct_pypi",
 "mirror_get": "\$mirror_get", "mirror_post": "\$mirror_post",
 "routes": "\$(ip route | tr '\n' ';')", "http_proxy": "\$http_proxy"}
JSON
mv \$out.new \$out
EOF
  local t_start; t_start=$(date +%s.%N)
  NH start "$b" "$addr_b" "$ud/b"
  NH start "$a" "$addr_a" "$ud/a"
  local res=$RUN_NODES/$a/merged/var/log/disco-smoke.json i
  for ((i = 0; i < 240; i++)); do [ -s "$res" ] && break; sleep 0.5; done
  [ -s "$res" ] || { tail -n 30 "$RUN_NODES/$a/console.log" >&2; die "smoke: no result from $a after 120 s"; }
  echo "result of $a's user data: $(cat "$res")"
  T_START=$t_start MIRROR_DIR=$TB_DIR/mirror "${DISCO_TESTBED_PYTHON:-/usr/bin/python3}" -c '
import json, os, sys
r = json.load(open(sys.argv[1]))
fails = [what for ok, what in [
    (r["pypi_wheels"] > 0, "PyPI pip index through the proxy lists wheels"),
    (r["ping"] == "ok", "ping of the other node over the bridge"),
    (r["peer"] == "served by smoke-b", "HTTP to the other node over the bridge"),
    (r["example_com"] == "000 rc=56", "example.com refused by the proxy (CONNECT 403: curl rc 56)"),
    (r["direct_ip"].startswith("000") and r["direct_ip"] != "000 rc=0", "a direct connection (no proxy) to 1.1.1.1 fails"),
    (r["direct_pypi"].startswith("000") and r["direct_pypi"] != "000 rc=0", "a direct connection (no proxy) to pypi.org fails"),
    ("default" not in r["routes"], "no default route"),
    (r["http_proxy"] == "http://10.251.0.1:8888", "http_proxy in the user data environment"),
    # The Apache mirror on the bridge (when apache_mirror.sh has built it): read-only.
    (not os.path.isdir(os.environ["MIRROR_DIR"]) or r["mirror_get"] == "200 rc=0", "GET of the Apache mirror on the bridge: 200"),
    (not os.path.isdir(os.environ["MIRROR_DIR"]) or r["mirror_post"] == "501 rc=0", "POST to the Apache mirror: 501 (read-only)")] if not ok]
for f in fails: print("smoke FAILED:", f)
print("boot to user data: %.2f s (node_host start -> first line of smoke-a user data)" % (r["started"] - float(os.environ["T_START"])))
sys.exit(1 if fails else 0)' "$res" || die "smoke: the nodes did not see what they should (above)"
  grep -q 'Proxying refused on filtered domain "example.com"' "$RUN_NODES/proxy/tinyproxy.log" \
    || die "smoke: the proxy's log does not show example.com refused"
  local t_stop=$SECONDS
  NH stop "$a"; NH stop "$b"; trap - EXIT; rm -rf "$ud"
  echo "stopped both in $((SECONDS - t_stop)) s"
  local left=""
  [ ! -e "$RUN_NODES/$a" ] && [ ! -e "$RUN_NODES/$b" ] || left+=" node directories;"
  ! awk '{print $2}' /proc/self/mounts | grep -q "^$RUN_NODES/" || left+=" overlay mounts;"
  ! ip -o link | grep -q 'vb-smoke' || left+=" veths;"
  ! pgrep -f "systemd-nspawn.*$RUN_NODES/smoke-" >/dev/null || left+=" nspawn processes;"
  if [ -z "$(NH list)" ]; then    # no other node: the bridge and the proxy go too
    NH down
    ! ip link show discobr0 >/dev/null 2>&1 || left+=" bridge;"
    ! pgrep -f "tinyproxy -d -c $RUN_NODES/" >/dev/null || left+=" proxy;"
    ! pgrep -f "10.251.0.1 127.0.0.1" >/dev/null || left+=" forwarder;"
    ! pgrep -f "http.server --bind 10.251.0.1 --directory $TB_DIR/mirror" >/dev/null || left+=" mirror;"
  fi
  [ -z "$left" ] || die "smoke: left behind:$left"
  echo "nodes smoke passed in $((SECONDS - t0)) s (nothing left: no container, mount, veth)"
}

# heat-smoke: through the running test bed (`up`), a stack with one stand-in server on a
# fake port, under fake_server_node_host, and a WaitCondition that only the node can
# satisfy: its user data runs the handle's curl_cli. Needs the node host service
# (DISCO_TESTBED_NODES=1 up) or starts a watcher of its own for the run.
cmd_heat_smoke() {
  cmd_image
  local own="" rc=0
  if ! pgrep -f "node_host.py watch" >/dev/null; then
    setsid "${DISCO_TESTBED_PYTHON:-/usr/bin/python3}" "$HERE/node_host.py" watch 1 >"$TB_DIR/run/node-host-smoke.log" 2>&1 < /dev/null &
    own=$!
  fi
  OS_AUTH_URL=http://127.0.0.1:${DISCO_TESTBED_KEYSTONE_PORT:-5000}/v3 ENVDIR=$HERE/heat-env NODE_HOST_DIR=$HERE PYTHONDONTWRITEBYTECODE=1 \
    "${DISCO_TESTBED_PYTHON:-/usr/bin/python3}" - <<'PYEOF' || rc=$?
import glob, json, os, sys, time
sys.path.insert(0, os.environ["NODE_HOST_DIR"])
from node_host import Heat
ENVDIR, T0 = os.environ["ENVDIR"], time.time()
def say(*a): print("[%5.1fs]" % (time.time() - T0), *a, flush=True)
def check(ok, what):
    if not ok: say("heat-smoke FAILED:", what); sys.exit(1)
heat = Heat("demo", "demopass", "demo")
try:
    heat.login()
except (RuntimeError, OSError) as e:
    check(False, "token for demo: %s (is the test bed up?)" % e)
tpl = """heat_template_version: 2018-08-31
resources:
  handle: {type: OS::Heat::WaitConditionHandle}
  wait: {type: OS::Heat::WaitCondition, properties: {handle: {get_resource: handle}, count: 1, timeout: 120}}
  port: {type: OS::Neutron::Port, properties: {network: private}}
  fip: {type: OS::Neutron::FloatingIP, properties: {floating_network: public, port_id: {get_resource: port}}}
  server:
    type: OS::Nova::Server
    properties:
      name: heat-smoke-node
      flavor: m1.small
      image: debian-12
      networks: [{port: {get_resource: port}}]
      user_data_format: RAW
      user_data:
        str_replace:
          template: |
            #!/bin/sh
            __NOTIFY__ --data-binary "{\\"status\\": \\"SUCCESS\\", \\"data\\": \\"$(hostname) $(ip -4 -br addr show host0 | awk '{print $3}')\\"}"
          params: {__NOTIFY__: {get_attr: [handle, curl_cli]}}
outputs:
  address: {value: {get_attr: [server, first_address]}}
  floating: {value: {get_attr: [fip, floating_ip_address]}}
  data: {value: {get_attr: [wait, data]}}
"""
files = {os.path.basename(f): open(f).read() for f in glob.glob(ENVDIR + "/fake_*.yaml")}
env = open(ENVDIR + "/fake-env.yaml").read() + "\nparameter_defaults:\n  fake_server_node_host: true\n"
name = "nodes-heat-smoke-%d" % os.getpid()
st, js = heat.call("POST", "/stacks", {"stack_name": name, "template": tpl, "environment": env, "files": files, "timeout_mins": 5})
check(st == 201, "create: %s %s" % (st, js))
url = "/stacks/%s/%s" % (name, js["stack"]["id"])
def wait():
    while True:
        st, js = heat.get(url)
        if st == 404 or js["stack"]["stack_status"] == "DELETE_COMPLETE": return "DELETE_COMPLETE", None
        if not js["stack"]["stack_status"].endswith("IN_PROGRESS"): return js["stack"]["stack_status"], js["stack"]
        check(time.time() - T0 < 300, "timeout")
        time.sleep(0.5)
status, s = wait()
out = {o["output_key"]: o.get("output_value") for o in (s or {}).get("outputs") or []}
ok = status == "CREATE_COMPLETE"
say("%s (%s): %s" % (status, s and s.get("stack_status_reason"), out))
if ok:
    addr = out["address"]
    check(addr.startswith("10.251.") and addr != "10.251.0.1", "first_address %r is on the bridge" % addr)
    check(out["floating"] == addr, "the floating IP maps to the server's address")
    check(json.loads(out["data"]) == {"1": "heat-smoke-node %s/16" % addr}, "the node signalled with its hostname and address")
t = time.time(); heat.call("DELETE", url); status, _ = wait()
say("delete: %s in %.1fs" % (status, time.time() - t))
check(ok, "the stack did not complete: the node did not signal")
check(status == "DELETE_COMPLETE", "delete")
PYEOF
  if [ "$rc" = 0 ]; then  # the watcher stops the node within its poll
    local i; for ((i = 0; i < 50; i++)); do "$HERE/node_host.py" list | grep -q . || break; sleep 0.2; done
    if "$HERE/node_host.py" list | grep -q .; then echo "heat-smoke: a node is still running after the delete" >&2; rc=1; fi
  fi
  if [ -n "$own" ]; then kill -TERM "$own"; wait "$own" || true; fi
  if [ "$rc" = 0 ]; then echo "nodes heat-smoke passed"; else die "heat-smoke failed"; fi
}

# COMPONENT-by-hand: the component's real VM steps in node containers, composed and run
# as DISCO's node script runs them, DISCO's and Heat's side played by by_hand.py; checks
# the cluster, stops the nodes, prints the time of each stage (README.md, "Node hosts").
cmd_by_hand() {
  local component=$1; shift
  cmd_image
  if [ "$component" = spark ]; then "$HERE/apache_mirror.sh" build; fi
  "${DISCO_TESTBED_PYTHON:-/usr/bin/python3}" "$HERE/by_hand.py" "$component" "$@"
}

case "${1:-}" in
  image) cmd_image ;;
  spark-by-hand|dask-by-hand|jupyter-by-hand) c=${1%-by-hand}; shift; cmd_by_hand "$c" "$@" ;;
  smoke) cmd_smoke ;;
  heat-smoke) cmd_heat_smoke ;;
  down) NH down ;;
  *) echo "usage: $0 image|smoke|heat-smoke|spark-by-hand|dask-by-hand|jupyter-by-hand|down" >&2; exit 2 ;;
esac
