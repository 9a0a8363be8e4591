#!/usr/bin/env python3
"""A component's real VM steps in node containers, by hand, as DISCO's node script runs them.

    by_hand.py spark [--slaves N] [--keep]   # master + N slaves (default 2)
    by_hand.py dask  [--slaves N] [--keep]   # master + N slaves (default 2)
    by_hand.py jupyter [--keep]              # a master alone

(nodes.sh spark-by-hand / dask-by-hand / jupyter-by-hand.) Without DISCO and without Heat:
it composes each node's user data the way src/compose/script.rs does (the DISCO_* and
DISCO_PARAM_* exports, disco_wc_notify, heat-templates/node-lib.sh, one function per step
with its PARAM_* exports around the component's own script, then disco_run_step for each
step and disco_finish), with the two values Heat fills in (the master's address, the
slave's index) put in, and boots a node per server with node_host.py. DISCO's side is a
small HTTP server on 127.0.0.1 that the nodes reach at http://10.251.0.1:PORT through
node_host.py's DISCO port forwarder: it takes the nodes' reports (POST .../report, which
time each stage), answers the smoke tests' GET .../report ({"expected_slaves": N}), and
takes the wait condition's signals in place of Heat. Then it checks what the cluster
runs, stops the nodes and prints the time of each stage. Root, stdlib only.
"""
import http.server
import json
import os
import re
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import node_host  # noqa: E402

CLUSTER_ID = "0c0ffee0-b1ad-4000-8000-00000000b1ad"
TOKEN = "by-hand-report-token"
PHASES = ["install", "configure", "start", "smoke"]
MASTER_ADDR = "10.251.0.21"   # slaves .22, .23, ...: clear of nodes-smoke's and Heat's
T0 = time.time()


def say(*a):
    print("[%6.1fs]" % (time.time() - T0), *a, flush=True)


def quote(v):
    return "'" + v.replace("'", "'\\''") + "'"


def env_name(s):
    return re.sub(r"[^A-Za-z0-9]", "_", s).upper()


# ------------------------------------------------------------------------ DISCO's side
class Disco:
    """What DISCO does for the nodes: takes their reports and outputs, says how many slaves
    there are, and (for Heat) takes the wait condition's signals."""

    def __init__(self, slaves):
        self.slaves = slaves
        self.reports, self.signals, self.outputs, self.heartbeats = [], [], {}, 0
        self.lock = threading.Lock()
        disco = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, code, body=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def authorised(self):
                return self.headers.get("Authorization") == "Bearer " + TOKEN

            def do_GET(self):
                if self.path.split("?")[0] == "/disco/%s/report" % CLUSTER_ID and self.authorised():
                    return self.answer(200, {"expected_slaves": disco.slaves})
                self.answer(404 if self.authorised() else 401)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                path = self.path.split("?")[0]
                try:
                    js = json.loads(body or b"null")
                except ValueError:
                    return self.answer(400)
                with disco.lock:
                    if path == "/wc":  # the wait condition: Heat's handle, no DISCO token
                        disco.signals.append((now, js))
                        return self.answer(200)
                    if not self.authorised():
                        return self.answer(401)
                    if path == "/disco/%s/report" % CLUSTER_ID:
                        disco.reports.append((now, js))
                    elif path == "/disco/%s/outputs" % CLUSTER_ID:
                        disco.outputs.update(js.get("files") or {})
                    elif path == "/disco/%s/health" % CLUSTER_ID:
                        disco.heartbeats += 1
                    else:
                        return self.answer(404)
                self.answer(204)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self):  # DISCO's server.public_url as the nodes see it
        return "http://%s:%d" % (node_host.HOST_ADDR, self.port)


# ------------------------------------------------------------------------ composing
def load(component):
    with open(os.path.join(ROOT, "frameworks", component, "component.toml"), "rb") as f:
        return tomllib.load(f)


def group_includes(node_group, group):
    return node_group in (group, "all", "both")


def health_checks(toml, group):
    out = []
    for h in toml.get("health", []):
        if not group_includes(h.get("node_group", "all"), group):
            continue
        if "tcp" in h:
            out.append("%s tcp %d" % (toml["name"], h["tcp"]))
        else:
            x = h["http"]
            out.append("%s http %d %s %d" % (toml["name"], x["port"], x["path"], x["status"]))
    return "\n".join(out)


def output_files(toml):
    return [o["file"] for o in toml.get("outputs", [])
            if "file" in o and "openstack" in o.get("providers", ["openstack"])]


def compose(component, toml, params, group, disco, wc_notify, slave_count, slave_index=None):
    """The node script of `group`, as src/compose/script.rs writes it for one component,
    with Heat's __DISCO_MASTER_ADDRESS__ and %index% filled in."""
    steps = toml["steps"][group]
    o = ["#!/bin/bash",
         "# DISCO node script (by hand): cluster by-hand (%s), node group %s." % (CLUSTER_ID, group),
         "# Composed from the component catalogue: %s." % component,
         "set -euo pipefail", "umask 022", ""]
    exp = lambda k, v: o.append("export %s=%s" % (k, quote(v)))  # noqa: E731
    exp("DISCO_CLUSTER_ID", CLUSTER_ID)
    exp("DISCO_CLUSTER_NAME", "by-hand")
    exp("DISCO_NODE_GROUP", group)
    exp("DISCO_SLAVE_COUNT", str(slave_count))
    exp("DISCO_MASTER_ADDRESS", MASTER_ADDR)
    exp("DISCO_COMPONENTS", component)
    exp("DISCO_REPORT_URL", "%s/disco/%s/report" % (disco.url(), CLUSTER_ID))
    exp("DISCO_REPORT_TOKEN", TOKEN)
    if group == "master":
        exp("DISCO_NODE", "master")
    else:
        exp("DISCO_SLAVE_INDEX", str(slave_index))
        o.append('export DISCO_NODE="slaves:$((DISCO_SLAVE_INDEX + 1))"')
    exp("DISCO_HEALTH_CHECKS", health_checks(toml, group))
    exp("DISCO_ACTIVITY_STEPS", "%s:step_%s_activity" % (component, component) if "activity" in steps else "")
    for p in sorted(params):
        exp("DISCO_PARAM_%s_%s" % (env_name(component), env_name(p)), params[p])
    exp("DISCO_OUTPUT_FILES", "\n".join(output_files(toml)) if group == "master" else "")
    exp("DISCO_USES", "")
    o += ["", "disco_wc_notify() {\n  %s --data-binary \"$1\"\n}\n" % wc_notify]
    o.append(open(os.path.join(ROOT, "heat-templates", "node-lib.sh")).read().rstrip() + "\n")
    runs = [ph for ph in PHASES if ph in steps]
    for ph in runs + (["activity"] if "activity" in steps else []):
        fn = "step_%s_%s" % (component.replace("-", "_"), ph)
        o.append("# %s %s (%s/%s)" % (component, ph, component, steps[ph]))
        o.append(fn + "() (")
        o += ['  export PARAM_{0}="${{DISCO_PARAM_{1}_{0}-}}"'.format(env_name(p), env_name(component))
              for p in sorted(params)]
        o.append(open(os.path.join(ROOT, "frameworks", component, steps[ph])).read().rstrip())
        o.append(")\n")
    o += ["trap 'disco_fail \"the node script stopped at line $LINENO\"' ERR",
          'disco_log "node script started"', 'disco_report "node started" succeeded 0']
    o += ["disco_run_step %s %s step_%s_%s" % (component, ph, component.replace("-", "_"), ph) for ph in runs]
    o.append("disco_finish")
    return "\n".join(o) + "\n"


# ------------------------------------------------------------------------ checks
def get(url, timeout=5):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the bridge, no proxy
    with opener.open(url, timeout=timeout) as r:
        return r.status, r.read().decode(errors="replace")


def check_spark(disco, nodes, slaves):
    st, body = get("http://%s:8080/json/" % MASTER_ADDR)
    js = json.loads(body)
    alive = [w for w in js.get("workers", []) if w.get("state") == "ALIVE"]
    hosts = sorted(w.get("host") for w in alive)
    want = sorted(addr for name, addr in nodes[1:])
    yield len(alive) == slaves and hosts == want, \
        "the master's /json/ lists %d ALIVE workers on %s (want %d on %s)" % (len(alive), hosts, slaves, want)
    yield "SparkPi says pi is roughly" in stage_output(disco, "master", "spark smoke"), \
        "the smoke test's SparkPi result: %r" % stage_output(disco, "master", "spark smoke")[-200:]
    yield "spark-master-url" in disco.outputs, "the master reported its output file spark-master-url"


def check_dask(disco, nodes, slaves):
    out = stage_output(disco, "master", "dask smoke")
    yield ("dask: %d workers; sum of squares 0..99 = 328350" % slaves) in out, \
        "the smoke test's result: %r" % out[-200:]
    st, _ = get("http://%s:8787/health" % MASTER_ADDR)
    yield st == 200, "the dashboard's /health answers 200"


def check_jupyter(disco, nodes, slaves):
    out = stage_output(disco, "master", "jupyter smoke")
    yield any(r[1].get("stage") == "jupyter smoke" and r[1].get("status") == "succeeded"
              for r in disco.reports), "the smoke test passed: %r" % out[-200:]
    url = "http://%s:8888/api/status" % MASTER_ADDR
    try:
        st = get(url)[0]
    except urllib.error.HTTPError as e:
        st = e.code
    yield st == 403, "over the bridge, %s without the token answers %s (want 403)" % (url, st)
    token_file = os.path.join(node_host.RUN, nodes[0][0], "merged", "opt/disco/jupyter/token")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, headers={"Authorization": "token " + open(token_file).read().strip()})
    with opener.open(req, timeout=5) as r:
        yield r.status == 200, "... and with the node's token (opt/disco/jupyter/token) %s (want 200)" % r.status


def stage_output(disco, node, stage):
    for _, r in disco.reports:
        if r.get("node") == node and r.get("stage") == stage and r.get("status") != "executing":
            return r.get("output") or ""
    return ""


# ------------------------------------------------------------------------ the run
def timings(disco, names, started):
    """Per node: boot (node start -> "node started"), then each stage's executing -> end,
    from the times DISCO's side received the reports."""
    rows, per_stage = [], {}
    for node, _ in names:
        began = {}
        for t, r in disco.reports:
            if r.get("node") != node:
                continue
            stage, status = r.get("stage"), r.get("status")
            if stage == "node started":
                rows.append((node, "boot", t - started[node], "succeeded"))
                per_stage["boot"] = max(per_stage.get("boot", 0), t - started[node])
            elif status == "executing":
                began[stage] = t
            elif stage in began:
                d = t - began[stage]
                rows.append((node, stage, d, status))
                phase = stage.split()[-1]
                per_stage[phase] = max(per_stage.get(phase, 0), d)
    return rows, per_stage


def main(argv):
    if not argv or argv[0] not in ("spark", "dask", "jupyter"):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    component, keep = argv[0], "--keep" in argv
    slaves = 0 if component == "jupyter" else 2
    if "--slaves" in argv:
        slaves = int(argv[argv.index("--slaves") + 1])
    timeout = float(os.environ.get("DISCO_BY_HAND_TIMEOUT", "900"))
    toml = load(component)
    params = {k: str(v["default"]).lower() if isinstance(v["default"], bool) else str(v["default"])
              for k, v in toml.get("parameters", {}).items()}
    if "apache_mirror" in params:  # the test bed's mirror on the bridge
        params["apache_mirror"] = "http://%s:%d" % (node_host.HOST_ADDR, node_host.MIRROR_PORT)
    disco = Disco(slaves)
    wc = ("curl -i -X POST -H 'Content-Type: application/json' -H 'Accept: application/json' "
          "%s/wc" % disco.url())
    nodes = [("bh-%s-m" % component, MASTER_ADDR)] + \
        [("bh-%s-s%d" % (component, i + 1), "10.251.0.%d" % (22 + i)) for i in range(slaves)]
    names = [("master", nodes[0])] + [("slaves:%d" % (i + 1), nodes[i + 1]) for i in range(slaves)]
    say("%s by hand: master + %d slaves, DISCO's side at %s (127.0.0.1:%d forwarded)"
        % (component, slaves, disco.url(), disco.port))
    work = os.path.join(node_host.RUN, ".by-hand-%d" % os.getpid())
    os.makedirs(work, exist_ok=True)
    started, rc = {}, 1
    try:
        for i, (node, (name, addr)) in enumerate(names):
            group = "master" if node == "master" else "slaves"
            ud = os.path.join(work, name)
            with open(os.open(ud, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(compose(component, toml, params, group, disco, wc, slaves, None if i == 0 else i - 1))
            started[node] = time.time()
            node_host.start(name, addr, ud, name, disco_port=str(disco.port))
        t_booted = time.time()
        say("%d nodes started in %.1f s" % (len(nodes), t_booted - T0))
        seen = set()

        def show_new_reports():
            with disco.lock:
                new = [(t, r) for t, r in disco.reports if id(r) not in seen]
            for t, r in new:
                seen.add(id(r))
                if r.get("status") != "executing" and r.get("stage") != "node started":
                    say("%-9s %-16s %s%s" % (r.get("node"), r.get("stage"), r.get("status"),
                                            "" if r.get("rc") in (0, None) else " rc=%s" % r.get("rc")))
                    if r.get("status") == "failed":
                        print("  stdout: ...%s\n  stderr: ...%s" % ((r.get("output") or "")[-1500:],
                                                                    (r.get("error") or "")[-1500:]))
        while len({s.get("id") for _, s in disco.signals}) < len(nodes) and time.time() - T0 < timeout:
            show_new_reports()
            time.sleep(0.5)
        time.sleep(0.5)  # the "node ready" report follows the signal
        show_new_reports()
        t_end = time.time()
        signals = {s.get("id"): s for _, s in disco.signals}
        fails = []
        for node, (name, _) in names:
            s = signals.get(node)
            if not s:
                fails.append("%s did not signal within %.0f s" % (node, timeout))
                log = os.path.join(node_host.RUN, name, "merged", "var/log/cloud-init-output.log")
                if os.path.exists(log):
                    print("--- %s: cloud-init-output.log\n%s" % (name, open(log).read()[-3000:]))
            elif s.get("status") != "SUCCESS":
                fails.append("%s signalled %s: %s" % (node, s.get("status"), s.get("reason")))
        if not fails:
            check = {"spark": check_spark, "dask": check_dask, "jupyter": check_jupyter}[component]
            try:
                for ok, what in check(disco, nodes, slaves):
                    say(("ok: " if ok else "FAILED: ") + what)
                    if not ok:
                        fails.append(what)
            except (OSError, ValueError, KeyError) as e:
                fails.append("checking the cluster: %s" % e)
        rows, per_stage = timings(disco, names, started)
        print("\n%-10s %-18s %8s  %s" % ("node", "stage", "seconds", "status"))
        for node, stage, d, status in rows:
            print("%-10s %-18s %8.1f  %s" % (node, stage, d, status))
        print("\nby hand, %s 1+%d, the slowest node per stage: %s; first node start -> last signal %.1f s"
              % (component, slaves, ", ".join("%s %.1f s" % (k, per_stage[k]) for k in ["boot"] + PHASES
                                               if k in per_stage), t_end - min(started.values())))
        for f in fails:
            say("by hand FAILED: " + f)
        rc = 1 if fails else 0
    finally:
        if keep:
            say("--keep: nodes left running (node_host.py stop NAME): %s" % " ".join(n for n, _ in nodes))
        else:
            t = time.time()
            stops = [threading.Thread(target=node_host.stop, args=(name,)) for name, _ in nodes]
            for th in stops:  # side by side: each halts its container's services
                th.start()
            for th in stops:
                th.join()
            node_host.stop_recorded(os.path.join(node_host.RUN, "proxy", "forward-disco-%d.pid" % disco.port))
            left = [n for n, _ in nodes if os.path.exists(os.path.join(node_host.RUN, n))]
            say("stopped %d nodes in %.1f s%s" % (len(nodes), time.time() - t,
                                                  "; LEFT: %s" % left if left else ", nothing left"))
            if left:
                rc = 1
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)
    say("%s by hand %s" % (component, "passed" if rc == 0 else "FAILED"))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
