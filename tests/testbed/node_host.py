#!/usr/bin/env python3
"""Node host for the DISCO test bed: Debian 12 system containers that play cloud servers.

    node_host.py net-up                    # bridge discobr0 (10.251.0.1/16) + proxy on it
    node_host.py start NAME ADDRESS FILE   # boot a node: overlay, nspawn, user data FILE
    node_host.py stop NAME                 # stop it, remove container, overlay, veth
    node_host.py list                      # NAME ADDRESS PID per running node
    node_host.py exec NAME CMD [ARG...]    # run CMD in a running node (root, a clean env)
    node_host.py down                      # every node, the proxy, the bridge
    node_host.py watch [SECONDS]           # as a test bed service: a node per stand-in
                                           # server Heat created with fake_server_node_host
    start and watch take --disco-port PORT: DISCO's port, forwarded to the nodes

Each node is `systemd-nspawn --boot --register=no --keep-unit` on a copy-on-write overlay
(lower: the cached image nodes.sh builds; upper/work under run/nodes/NAME) in its own
network namespace, its veth on the bridge, a static address and no default route: the
bridge is all it reaches, and the proxy on it (tinyproxy, allowing only Debian's and
PyPI's hosts) its only way out. The Apache mirror (apache_mirror.sh) is served on the
bridge at http://10.251.0.1:8890, and DISCO's port forwarded to the nodes. The user data runs once at boot, as cloud-init does with
user_data_format RAW (a unit in the image, see nodes.sh). Stdlib only, as root.
See README.md ("Node hosts").
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

TB_DIR = os.environ.get("DISCO_TESTBED_DIR", "/var/tmp/disco-testbed")
ROOTFS = os.path.join(TB_DIR, "nodes", "rootfs")
RUN = os.path.join(TB_DIR, "run", "nodes")
BRIDGE = os.environ.get("DISCO_TESTBED_BRIDGE", "discobr0")
HOST_ADDR = "10.251.0.1"
BRIDGE_MAC = "02:d1:5c:00:00:01"   # locally administered
PREFIX = 16
PROXY_PORT = int(os.environ.get("DISCO_TESTBED_PROXY_PORT", "8888"))
PROXY = "http://%s:%d" % (HOST_ADDR, PROXY_PORT)
# The test bed's APIs listen on 127.0.0.1; a node reaches them at the same URLs (a wait
# condition's curl_cli says http://127.0.0.1:8004/...): a forwarder in each node sends its
# 127.0.0.1:PORT to 10.251.0.1:PORT, where the host's forwarder sends it to 127.0.0.1:PORT.
FORWARD_PORTS = [int(p) for p in os.environ.get("DISCO_TESTBED_NODE_FORWARD_PORTS", "5000 8004").split()]
# DISCO's own port (its server.public_url, where nodes report): forwarded the same way, by
# a forwarder of its own per port (tests run DISCOs on ports of their own). Given with
# --disco-port or DISCO_TESTBED_NODES_DISCO_PORT, or found in the user data's
# DISCO_REPORT_URL when that names 127.0.0.1 or 10.251.0.1.
DISCO_PORT = os.environ.get("DISCO_TESTBED_NODES_DISCO_PORT", "")
REPORT_URL_RE = re.compile(r"DISCO_REPORT_URL='https?://(?:127\.0\.0\.1|10\.251\.0\.1):(\d{1,5})/")
# The Apache mirror (apache_mirror.sh build) served read-only to the nodes at
# http://10.251.0.1:MIRROR_PORT, the URL to give as a component's apache_mirror.
MIRROR_DIR = os.path.join(TB_DIR, "mirror")
MIRROR_PORT = int(os.environ.get("DISCO_TESTBED_MIRROR_PORT", "8890"))
ALLOWED_HOSTS = ["deb.debian.org", "security.debian.org", "pypi.org", "files.pythonhosted.org"]
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
STOP_GRACE = float(os.environ.get("DISCO_TESTBED_NODE_GRACE", "20"))
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ADDR_RE = re.compile(r"^10\.251\.(\d{1,3})\.(\d{1,3})$")


def log(*a):
    print("node_host:", *a, file=sys.stderr, flush=True)


def run(*cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p


def pid_alive(pid, start):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z" and fields[19] == start


def proc_start(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


# ------------------------------------------------------------------------ network, proxy
def bridge_exists():
    return run("ip", "link", "show", BRIDGE, check=False).returncode == 0


def net_up():
    if not bridge_exists():
        # A MAC of its own: a bridge without one takes the lowest of its ports', and
        # changes it as nodes come and go, which leaves the nodes' ARP entries for
        # 10.251.0.1 (the proxy, the mirror, the forwarders) stale for a while.
        run("ip", "link", "add", BRIDGE, "address", BRIDGE_MAC, "type", "bridge")
    if HOST_ADDR not in run("ip", "-4", "addr", "show", BRIDGE).stdout:
        run("ip", "addr", "add", "%s/%d" % (HOST_ADDR, PREFIX), "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    proxy_up()
    forward_up()
    mirror_up()


def proxy_pidfile():
    return os.path.join(RUN, "proxy", "tinyproxy.pid")


def proxy_running():
    try:
        pid, start = open(proxy_pidfile()).read().split()
        return pid_alive(int(pid), start)
    except (OSError, ValueError):
        return False


def proxy_up():
    if proxy_running():
        return
    d = os.path.join(RUN, "proxy")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "filter"), "w") as f:  # extended regexes on the host name
        f.writelines("^%s$\n" % re.escape(h) for h in ALLOWED_HOSTS)
    with open(os.path.join(d, "tinyproxy.conf"), "w") as f:
        f.write("\n".join([
            "# DISCO test bed: the node containers' only way out (node_host.py)",
            "Listen %s" % HOST_ADDR, "Port %d" % PROXY_PORT,
            "Allow %s/%d" % (HOST_ADDR.rsplit(".", 2)[0] + ".0.0", PREFIX),
            "Timeout 600", "MaxClients 100", "LogLevel Connect", "Syslog Off",
            "Filter \"%s\"" % os.path.join(d, "filter"), "FilterExtended On", "FilterDefaultDeny Yes",
            "ConnectPort 443", "DisableViaHeader Yes", ""]))
    out = open(os.path.join(d, "tinyproxy.log"), "a")
    p = subprocess.Popen(["tinyproxy", "-d", "-c", os.path.join(d, "tinyproxy.conf")], stdout=out,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    with open(proxy_pidfile(), "w") as f:
        f.write("%d %s\n" % (p.pid, proc_start(p.pid)))
    for _ in range(50):
        if run("ss", "-Htln", "src", "%s:%d" % (HOST_ADDR, PROXY_PORT), check=False).stdout.strip():
            return
        if p.poll() is not None:
            raise RuntimeError("tinyproxy exited %s (log: %s)" % (p.returncode, out.name))
        time.sleep(0.1)
    raise RuntimeError("tinyproxy does not listen on %s:%d" % (HOST_ADDR, PROXY_PORT))


def stop_recorded(pidfile):
    """TERM the process a pid file records ("PID START"), KILL after 5 s; drop the file."""
    try:
        pid, start = open(pidfile).read().split()
    except (OSError, ValueError):
        return
    if pid_alive(int(pid), start):
        os.kill(int(pid), signal.SIGTERM)
        for _ in range(50):
            if not pid_alive(int(pid), start):
                break
            time.sleep(0.1)
        else:
            os.kill(int(pid), signal.SIGKILL)
    os.unlink(pidfile)


FORWARDER = r'''
import asyncio, os, socket, sys
def main(listen, target, ports):
    async def pipe(r, w):
        try:
            while True:
                b = await r.read(65536)
                if not b:
                    break
                w.write(b)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()
    async def handle(r, w, port):
        try:
            tr, tw = await asyncio.open_connection(target, port)
        except OSError:
            w.close()
            return
        await asyncio.gather(pipe(r, tw), pipe(tr, w))
    async def run():
        servers = [await asyncio.start_server(lambda r, w, p=p: handle(r, w, p), listen, p) for p in ports]
        print("forwarding %s -> %s ports %s" % (listen, target, ports), flush=True)
        ns = os.environ.get("NOTIFY_SOCKET")  # Type=notify in a node: ready once listening
        if ns:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as u:
                u.connect("\0" + ns[1:] if ns.startswith("@") else ns)
                u.send(b"READY=1")
        await asyncio.gather(*(s.serve_forever() for s in servers))
    asyncio.run(run())
main(sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]])
'''


def forward_pidfile():
    return os.path.join(RUN, "proxy", "forward.pid")


def recorded_running(pidfile):
    try:
        pid, start = open(pidfile).read().split()
        return pid_alive(int(pid), start)
    except (OSError, ValueError):
        return False


def spawn_recorded(pidfile, logname, cmd):
    """Start cmd in a session of its own, output in run/nodes/proxy/LOGNAME, recorded in pidfile."""
    os.makedirs(os.path.dirname(pidfile), exist_ok=True)
    out = open(os.path.join(RUN, "proxy", logname), "a")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    with open(pidfile, "w") as f:
        f.write("%d %s\n" % (p.pid, proc_start(p.pid)))
    return p


def wait_listening(port, p, what):
    for _ in range(50):
        if run("ss", "-Htln", "src", "%s:%d" % (HOST_ADDR, port), check=False).stdout.strip():
            return
        if p.poll() is not None:
            raise RuntimeError("%s exited %s" % (what, p.returncode))
        time.sleep(0.1)
    raise RuntimeError("%s does not listen on %s:%d" % (what, HOST_ADDR, port))


def forward_up():
    if not recorded_running(forward_pidfile()):
        spawn_recorded(forward_pidfile(), "forward.log",
                       [sys.executable, "-c", FORWARDER, HOST_ADDR, "127.0.0.1"] + [str(x) for x in FORWARD_PORTS])


def disco_forward_up(port):
    """10.251.0.1:PORT -> 127.0.0.1:PORT for a DISCO server (one forwarder per port)."""
    pidfile = os.path.join(RUN, "proxy", "forward-disco-%d.pid" % port)
    if port in FORWARD_PORTS or recorded_running(pidfile):
        return
    p = spawn_recorded(pidfile, "forward-disco-%d.log" % port,
                       [sys.executable, "-c", FORWARDER, HOST_ADDR, "127.0.0.1", str(port)])
    wait_listening(port, p, "the forwarder of DISCO's port %d" % port)


def mirror_pidfile():
    return os.path.join(RUN, "proxy", "mirror.pid")


def mirror_up():
    """The Apache mirror's directory over HTTP on the bridge (GET and HEAD only: Python's
    http.server answers 501 to anything else), when apache_mirror.sh has built it."""
    if recorded_running(mirror_pidfile()) or not os.path.isdir(MIRROR_DIR):
        return
    p = spawn_recorded(mirror_pidfile(), "mirror.log",
                       [sys.executable, "-m", "http.server", "--bind", HOST_ADDR, "--directory", MIRROR_DIR,
                        str(MIRROR_PORT)])
    wait_listening(MIRROR_PORT, p, "the Apache mirror's HTTP server")


def net_down():
    for pidfile in glob.glob(os.path.join(RUN, "proxy", "forward-disco-*.pid")):
        stop_recorded(pidfile)
    stop_recorded(mirror_pidfile())
    stop_recorded(forward_pidfile())
    stop_recorded(proxy_pidfile())
    if bridge_exists():
        run("ip", "link", "del", BRIDGE)


# ------------------------------------------------------------------------ nodes
def node_dir(name):
    if not NAME_RE.match(name):
        raise ValueError("node name %r: lowercase letters, digits and '-', at most 63" % name)
    return os.path.join(RUN, name)


def check_address(addr):
    m = ADDR_RE.match(addr)
    if not m or not all(0 <= int(x) <= 255 for x in m.groups()) or addr in (HOST_ADDR, "10.251.255.255") \
            or m.groups() == ("0", "0"):
        raise ValueError("address %r: expected 10.251.x.y on the bridge, not %s" % (addr, HOST_ADDR))


def node_state(name):
    try:
        with open(os.path.join(node_dir(name), "state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def node_running(name):
    s = node_state(name)
    return bool(s) and pid_alive(s["pid"], s["start"])


def write_node_files(root, name, addr, user_data, hostname=None, disco_ports=()):
    name = hostname or name
    ports = FORWARD_PORTS + [p for p in disco_ports if p not in FORWARD_PORTS]
    def put(path, text, mode=0o644):
        p = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
    put("/etc/hostname", name + "\n")
    put("/etc/hosts", "127.0.0.1 localhost\n%s %s\n" % (addr, name))
    put("/etc/systemd/network/10-host0.network",
        "[Match]\nName=host0\n\n[Network]\nAddress=%s/%d\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n"
        "# no Gateway: nothing but the bridge is reachable\n" % (addr, PREFIX))
    # The host by address too: Python's and pip's no_proxy do not take CIDR blocks.
    no_proxy = "localhost,127.0.0.1,%s,%s,10.251.0.0/16,.local" % (addr, HOST_ADDR)
    env = "".join("%s=%s\n" % (k, v) for k, v in [
        ("http_proxy", PROXY), ("https_proxy", PROXY), ("HTTP_PROXY", PROXY), ("HTTPS_PROXY", PROXY),
        ("no_proxy", no_proxy), ("NO_PROXY", no_proxy),
        # pip and requests carry their own CA bundle; make them use the system's
        ("PIP_CERT", CA_BUNDLE), ("REQUESTS_CA_BUNDLE", CA_BUNDLE), ("SSL_CERT_FILE", CA_BUNDLE)])
    put("/etc/environment", env)
    put("/etc/profile.d/disco-proxy.sh", "".join("export " + line for line in env.splitlines(True)))
    put("/etc/apt/apt.conf.d/90disco-proxy",
        'Acquire::http::Proxy "%s";\nAcquire::https::Proxy "%s";\n' % (PROXY, PROXY))
    put("/etc/systemd/system.conf.d/disco-proxy.conf",
        "[Manager]\nDefaultEnvironment=%s\n" % " ".join(
            "%s=%s" % (k, v) for k, v in (line.split("=", 1) for line in env.splitlines())))
    put("/var/lib/cloud/instance/user-data.txt", user_data, 0o700)
    put("/usr/local/sbin/disco-loopback-forward", FORWARDER, 0o755)
    put("/etc/systemd/system/disco-loopback-forward.service",
        "[Unit]\nDescription=The test bed's APIs at 127.0.0.1 (forwarded to %s)\n"
        "Before=disco-user-data.service\n\n[Service]\nType=notify\nExecStart=/usr/bin/python3 "
        "/usr/local/sbin/disco-loopback-forward 127.0.0.1 %s %s\n\n[Install]\nWantedBy=multi-user.target\n"
        % (HOST_ADDR, HOST_ADDR, " ".join(str(x) for x in ports)))
    link = os.path.join(root, "etc/systemd/system/multi-user.target.wants/disco-loopback-forward.service")
    if not os.path.lexists(link):
        os.symlink("/etc/systemd/system/disco-loopback-forward.service", link)
    # This machine's own extra CAs (an intercepting egress proxy's, say) are the nodes'
    # too, as a cloud's image behind such a proxy would have them: appended to the bundle.
    # Also in the node's /usr/local/share/ca-certificates, so that update-ca-certificates
    # (ca-certificates' postinst, when apt upgrades it) keeps them.
    extra = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
    if extra:
        bundle = open(os.path.join(ROOTFS, "etc/ssl/certs/ca-certificates.crt")).read()
        put("/etc/ssl/certs/ca-certificates.crt", bundle + "".join(open(c).read() for c in extra))
        for c in extra:
            put("/usr/local/share/ca-certificates/" + os.path.basename(c), open(c).read())


def disco_ports_of(user_data, disco_port=None):
    """The DISCO ports a node must reach: the one given, else DISCO_TESTBED_NODES_DISCO_PORT,
    and the one its user data's DISCO_REPORT_URL names on 127.0.0.1 or 10.251.0.1."""
    ports = []
    for p in [disco_port or DISCO_PORT] + REPORT_URL_RE.findall(user_data):
        if p and int(p) not in ports:
            if not 0 < int(p) < 65536:
                raise ValueError("DISCO port %r: expected 1-65535" % p)
            ports.append(int(p))
    return ports


def start(name, addr, user_data_file, hostname=None, extra_state=None, disco_port=None):
    d = node_dir(name)
    check_address(addr)
    if node_running(name):
        log("%s already running" % name)
        return
    stop(name)  # leftovers of a node that died
    if not os.path.exists(os.path.join(ROOTFS, ".disco-image-stamp")):
        raise RuntimeError("no node image at %s: run tests/testbed/openstack.sh nodes-image" % ROOTFS)
    net_up()
    user_data = open(user_data_file).read() if user_data_file != "-" else sys.stdin.read()
    disco_ports = disco_ports_of(user_data, disco_port)
    for p in disco_ports:
        disco_forward_up(p)
    upper, work, merged = (os.path.join(d, x) for x in ("upper", "work", "merged"))
    for p in (upper, work, merged):
        os.makedirs(p, exist_ok=True)
    run("mount", "-t", "overlay", "overlay", "-o",
        "lowerdir=%s,upperdir=%s,workdir=%s" % (ROOTFS, upper, work), merged)
    write_node_files(merged, name, addr, user_data, hostname, disco_ports)
    console = open(os.path.join(d, "console.log"), "a")
    p = subprocess.Popen(
        ["systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--quiet", "-D", merged,
         "--machine=" + name, "--hostname=" + (hostname or name), "--network-bridge=" + BRIDGE,
         "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=read-only"],
        stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    state = {"name": name, "address": addr, "pid": p.pid, "start": proc_start(p.pid),
             "started": time.time(), "disco_ports": disco_ports, **(extra_state or {})}
    with open(os.path.join(d, "state.json"), "w") as f:
        json.dump(state, f)
    log("%s started (nspawn pid %d, %s)" % (name, p.pid, addr))


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def veths_of(pid):
    """Host-side veths of this nspawn (named vb-<machine>, shortened if long)."""
    out = run("ip", "-o", "link", "show", "master", BRIDGE, check=False).stdout if bridge_exists() else ""
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def stop(name):
    d = node_dir(name)
    s = node_state(name)
    if s and pid_alive(s["pid"], s["start"]):
        pid = s["pid"]
        leaders = children(pid)  # the container's PID 1 (systemd)
        os.kill(pid, signal.SIGTERM)  # nspawn asks the container's systemd to halt
        t = time.time()
        while pid_alive(pid, s["start"]) and time.time() - t < STOP_GRACE:
            time.sleep(0.2)
        if pid_alive(pid, s["start"]):
            log("%s did not halt in %.0f s: KILL" % (name, STOP_GRACE))
            for q in leaders:  # killing a PID namespace's init kills the whole namespace
                try:
                    os.kill(q, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.kill(pid, signal.SIGKILL)
            while pid_alive(pid, s["start"]):
                time.sleep(0.1)
    merged = os.path.join(d, "merged")
    if mounted(merged):
        r = run("umount", merged, check=False)
        if r.returncode != 0:
            run("umount", "-l", merged)
    veth = "vb-" + name
    if len(veth) <= 15 and run("ip", "link", "show", veth, check=False).returncode == 0:
        run("ip", "link", "del", veth, check=False)
    if os.path.isdir(d):
        shutil.rmtree(d)


def names():
    try:
        return sorted(n for n in os.listdir(RUN) if n != "proxy" and NAME_RE.match(n))
    except OSError:
        return []


def cmd_list():
    for n in names():
        s = node_state(n) or {}
        print(n, s.get("address", "-"), s.get("pid", "-") if node_running(n) else "stopped")


def container_leader(name):
    """The pid (on this host) of the node's PID 1: the one child of its systemd-nspawn."""
    s = node_state(name)
    if not s or not node_running(name):
        raise RuntimeError("%s is not running" % name)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == s["pid"]:
            return int(entry)
    raise RuntimeError("%s: no container process under nspawn pid %d" % (name, s["pid"]))


def node_exec(name, argv):
    """Runs argv in the node's namespaces (mount, UTS, IPC, network, PID) as its root, with
    the environment a login would have (/etc/environment's proxy, PATH), and returns its
    exit status. (The nodes are not registered with machined: no machinectl shell.)"""
    leader = container_leader(name)
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
           "LANG=C.UTF-8", "TERM=dumb"]
    return subprocess.call(["nsenter", "--target", str(leader), "--mount", "--uts", "--ipc",
                            "--net", "--pid", "--", "/usr/bin/env", "-i", *env, *argv])


def down():
    for n in names():
        stop(n)
    net_down()


# ------------------------------------------------------------------------ watching Heat
SERVER_STANDIN = "DISCO test bed: stand-in for OS::Nova::Server"


class Heat:
    """Heat's REST API as admin (stdlib only): the project's token, refreshed on 401."""

    def __init__(self, user=None, password=None, project=None):
        self.ks = os.environ.get("OS_AUTH_URL", "http://127.0.0.1:5000/v3").rstrip("/")
        self.user = user or os.environ.get("DISCO_NODE_HOST_USER", "admin")
        self.password = password or os.environ.get("DISCO_NODE_HOST_PASSWORD", "adminpass")
        self.project = project or os.environ.get("DISCO_NODE_HOST_PROJECT", "admin")
        self.token = self.url = None

    def login(self):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": self.user, "domain": {"id": "default"}, "password": self.password}}},
            "scope": {"project": {"name": self.project, "domain": {"id": "default"}}}}}
        st, hd, js = self._req("POST", self.ks + "/auth/tokens", body, auth=False)
        if st != 201:
            raise RuntimeError("token for %s: HTTP %s" % (self.user, st))
        self.token = hd["X-Subject-Token"]
        self.url = [e["url"] for s in js["token"]["catalog"] if s["type"] == "orchestration"
                    for e in s["endpoints"] if e["interface"] == "public"][0]

    def _req(self, method, url, body=None, auth=True):
        import urllib.error
        import urllib.request
        h = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            h["X-Auth-Token"] = self.token
        r = urllib.request.Request(url, json.dumps(body).encode() if body is not None else None, h,
                                   method=method)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                t = resp.read().decode()
                return resp.status, resp.headers, json.loads(t) if t else None
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode(errors="replace")

    def call(self, method, path, body=None):
        if not self.token:
            self.login()
        st, _, js = self._req(method, self.url + path, body)
        if st == 401:
            self.login()
            st, _, js = self._req(method, self.url + path, body)
        return st, js

    def get(self, path):
        return self.call("GET", path)


def node_name(stack_id):
    return "n" + stack_id.replace("-", "")[:11]  # veth vb-<name> fits IFNAMSIZ (15)


def hostname_of(server_name, fallback):
    h = re.sub(r"[^a-z0-9-]", "-", server_name.lower()).strip("-")[:63]
    return h or fallback


def servers(heat):
    """Nested stacks Heat has (stand-in servers among them): stack id -> its list entry."""
    st, js = heat.get("/stacks?global_tenant=true&show_nested=true")
    if st != 200:
        raise RuntimeError("GET stacks?global_tenant=true: HTTP %s" % st)
    return {s["id"]: s for s in js["stacks"] if s.get("parent")}  # the list has no description


def watch_once(heat, seen, disco_port=None):
    """Start a node per stand-in server that reached CREATE_COMPLETE with a bridge address;
    stop the node of one Heat deletes. `seen`: stack ids looked at and not for us."""
    have = {}
    for n in names():
        s = node_state(n)
        if s and s.get("stack_id"):
            have[s["stack_id"]] = n
    wanted = servers(heat)
    for sid, s in wanted.items():
        if s["stack_status"] != "CREATE_COMPLETE" or sid in have or sid in seen:
            continue
        st, js = heat.get("/stacks/%s/%s" % (s["stack_name"], sid))
        if st != 200:
            continue
        stack = js["stack"]
        outputs = {o["output_key"]: o.get("output_value") for o in stack.get("outputs") or []}
        addr = outputs.get("first_address") or ""
        params = stack.get("parameters") or {}
        if not (stack.get("description") or "").startswith(SERVER_STANDIN) or not ADDR_RE.match(addr):
            seen.add(sid)  # not a server, or a stand-in without fake_server_node_host: not ours
            continue
        name = node_name(sid)
        ud = os.path.join(RUN, ".user-data-" + name)
        os.makedirs(RUN, exist_ok=True)
        with open(os.open(ud, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(params.get("user_data") or "")  # carries the wait condition's token
        try:
            start(name, addr, ud, hostname_of(params.get("name") or "", name),
                  {"stack_id": sid, "stack_name": s["stack_name"], "server": params.get("name"),
                   "project": s.get("project")}, disco_port)
        except (RuntimeError, ValueError, OSError) as e:
            log("server %s (%s): %s" % (params.get("name"), sid, e))
            seen.add(sid)
        finally:
            os.unlink(ud)
    for sid, n in have.items():
        s = wanted.get(sid)
        if s is None or s["stack_status"].startswith("DELETE"):
            log("server stack %s %s: stopping %s" % (sid, s["stack_status"] if s else "gone", n))
            stop(n)


def watch(interval, disco_port=None):
    heat = Heat()
    seen = set()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    log("watching Heat for stand-in servers on %s every %.1f s" % (BRIDGE, interval))
    net_up()
    while not stopping:
        try:
            watch_once(heat, seen, disco_port)
        except (RuntimeError, OSError, ValueError, KeyError) as e:
            log("watch: %s" % e)
        time.sleep(interval)
    log("stopping: every node")
    down()


def main(argv):
    if not argv:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    disco_port = None
    if "--disco-port" in args:
        i = args.index("--disco-port")
        disco_port = args[i + 1] if i + 1 < len(args) else ""
        if not disco_port.isdigit():
            print("node_host.py: --disco-port takes a port number", file=sys.stderr)
            return 2
        args = args[:i] + args[i + 2:]
    try:
        if cmd == "net-up" and not args:
            net_up()
        elif cmd == "start" and len(args) == 3:
            start(*args, disco_port=disco_port)
        elif cmd == "stop" and len(args) == 1:
            stop(args[0])
        elif cmd == "list" and not args:
            cmd_list()
        elif cmd == "exec" and len(args) >= 2:
            return node_exec(args[0], args[1:])
        elif cmd == "down" and not args:
            down()
        elif cmd == "watch" and len(args) <= 1:
            watch(float(args[0]) if args else 1.0, disco_port)
        else:
            print("usage: node_host.py net-up|start NAME ADDRESS FILE|stop NAME|list|exec NAME CMD...|down|watch [SECONDS]"
                  " [--disco-port PORT]", file=sys.stderr)
            return 2
    except (RuntimeError, ValueError, OSError) as e:
        log("%s: %s" % (cmd, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
