#!/usr/bin/env python3
"""POST -> ready through DISCO against the same stack driven directly against Heat.

Needs the test bed up (tests/testbed/openstack.sh up) and a built disco binary
(cargo build --release). For each run it:
  - direct: creates DISCO's template for a spark cluster with 2 slaves straight in Heat,
    polling every 0.1 s, signalling the wait conditions as soon as they exist (as booted
    nodes would), until CREATE_COMPLETE;
  - DISCO: POSTs the same cluster to DISCO and does the same signalling, until DISCO
    says ready.
It prints both times, their ratio, and the Heat API requests DISCO made per cluster
(requests heat-api logged during the DISCO run, less those this script made); then it
scales DISCO's cluster from 2 to 3 slaves and prints the time to ready again and the
Heat requests DISCO made for the scale.
Usage: benches/openstack_ratio.py [runs] [path to disco binary]
"""

import json, os, pathlib, re, subprocess, sys, tempfile, time, urllib.request, urllib.error

ROOT = pathlib.Path(__file__).resolve().parent.parent
AUTH = os.environ.get("OS_AUTH_URL", "http://127.0.0.1:5000/v3")
HEAT_LOG = pathlib.Path(os.environ.get("DISCO_TESTBED_DIR", "/var/tmp/disco-testbed")) / "run/logs/heat-api.log"
ENV_DIR = ROOT / "tests/testbed/heat-env"
heat_requests_by_me = 0


def call(method, url, token=None, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    headers = dict(headers or {})
    req.add_header("Content-Type", headers.pop("Content-Type", "application/json"))
    req.add_header("Accept", headers.pop("Accept", "application/json"))
    if token:
        req.add_header("X-Auth-Token", token)
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def heat(method, url, token, body=None):
    global heat_requests_by_me
    heat_requests_by_me += 1
    status, _, raw = call(method, url, token, body)
    return status, (json.loads(raw) if raw else {})


def token():
    status, headers, raw = call("POST", f"{AUTH}/auth/tokens", body={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "demo", "domain": {"name": "Default"}, "password": "demopass"}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}})
    assert status == 201, raw
    body = json.loads(raw)["token"]
    heat_url = next(e["url"] for s in body["catalog"] if s["type"] == "orchestration"
                    for e in s["endpoints"] if e["interface"] == "public")
    return headers["X-Subject-Token"], heat_url


def signal_all(heat_url, tok, name, slaves, signalled):
    """Signals each wait condition handle of stack `name` once it exists: the master's in
    the stack, each slave's in its member stack of the slaves' group."""
    status, body = heat("GET", f"{heat_url}/stacks?name={name}", tok)
    stacks = body.get("stacks", [])
    if not stacks:
        return
    sid = stacks[0]["id"]
    handles = [(name, sid, "master")]
    status, body = heat("GET", f"{heat_url}/stacks/{name}/{sid}/resources?nested_depth=2", tok)
    for r in body.get("resources", []):
        parent = r.get("parent_resource") or ""
        if r.get("resource_name") == "wait_handle" and parent.isdigit():
            href = next((l["href"] for l in r.get("links", []) if l.get("rel") == "stack"), "")
            member_name, member_id = href.rstrip("/").rsplit("/", 2)[-2:]
            handles.append((member_name, member_id, f"slaves:{int(parent) + 1}"))
    for stack, stack_id, node in handles:
        if node in signalled:
            continue
        status, body = heat("GET", f"{heat_url}/stacks/{stack}/{stack_id}/resources/wait_handle?with_attr=curl_cli", tok)
        curl = (body.get("resource", {}).get("attributes") or {}).get("curl_cli") or ""
        if status != 200 or not curl:
            continue
        wc_token = re.search(r"X-Auth-Token: ([^']+)'", curl).group(1)
        endpoint = curl.split()[-1].strip("'")
        heat("POST", endpoint, wc_token, {"status": "SUCCESS", "reason": "up", "data": node, "id": node})
        signalled.add(node)


def direct(heat_url, tok, template, name, slaves):
    env = (ENV_DIR / "fake-env.yaml").read_text()
    files = {p.name: p.read_text() for p in ENV_DIR.glob("fake_*.yaml")}
    files["disco-slave.yaml"] = (ROOT / "heat-templates/cluster-slave.yaml").read_text()
    t0 = time.monotonic()
    status, body = heat("POST", f"{heat_url}/stacks", tok, {
        "stack_name": name, "template": template, "environment": env, "files": files,
        "timeout_mins": 10, "disable_rollback": True})
    assert status == 201, body
    sid, signalled = body["stack"]["id"], set()
    while True:
        signal_all(heat_url, tok, name, slaves, signalled)
        status, body = heat("GET", f"{heat_url}/stacks/{name}/{sid}", tok)
        if body["stack"]["stack_status"] == "CREATE_COMPLETE":
            elapsed = time.monotonic() - t0
            break
        assert "FAILED" not in body["stack"]["stack_status"], body["stack"]["stack_status_reason"]
        time.sleep(0.1)
    heat("DELETE", f"{heat_url}/stacks/{name}/{sid}", tok)
    return elapsed


def log_lines():
    return HEAT_LOG.read_text(errors="replace").count("Processing request") if HEAT_LOG.exists() else 0


def main():
    global heat_requests_by_me
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    binary = sys.argv[2] if len(sys.argv) > 2 else str(ROOT / "target/release/disco")
    tok, heat_url = token()
    data = tempfile.mkdtemp(prefix="disco-ratio-")
    log = open(f"{data}.log", "w")
    env = dict(os.environ, DISCO_AUTH__MODE="keystone", DISCO_OPENSTACK__AUTH_URL=AUTH)
    server = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:18895", "--data-dir", data,
                               "--provider", "openstack", "--heat-environment", str(ENV_DIR / "fake-env.yaml")],
                              stdout=log, stderr=log, env=env)
    disco = "http://127.0.0.1:18895"
    time.sleep(1.5)
    attrs = "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=2"
    category = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind";'
    results = []
    try:
        for run in range(runs):
            # The template DISCO deploys, taken from a staged twin.
            _, h, _ = call("POST", f"{disco}/disco/", tok, b"", {"Category": category,
                           "Content-Type": "text/occi", "X-OCCI-Attribute": attrs + ",icclab.disco.stage=true"})
            staged = h["Location"]
            _, _, template = call("GET", f"{staged}/template", tok)
            d = direct(heat_url, tok, template.decode(), f"direct-{run}-{int(time.time())}", 2)

            before, mine_before = log_lines(), heat_requests_by_me
            t0 = time.monotonic()
            _, h, _ = call("POST", f"{disco}/disco/", tok, b"", {"Category": category, "Content-Type": "text/occi", "X-OCCI-Attribute": attrs})
            url = h["Location"]
            name = "disco-" + url.rsplit("/", 1)[1].replace("-", "")[:8]
            signalled = set()
            while True:
                signal_all(heat_url, tok, name, 2, signalled)
                _, _, raw = call("GET", url, tok, headers={"Accept": "application/occi+json"})
                state = json.loads(raw)["attributes"]["icclab.disco.state"]
                if state == "ready":
                    t = time.monotonic() - t0
                    break
                assert state != "failed", raw
                time.sleep(0.1)
            time.sleep(0.5)
            disco_heat_requests = (log_lines() - before) - (heat_requests_by_me - mine_before)

            # A scale-out of the same cluster, 2 -> 3 slaves: the new slave signals.
            before, mine_before = log_lines(), heat_requests_by_me
            t1 = time.monotonic()
            status, _, raw = call("POST", f"{url}?action=scale", tok, b"", {
                "Category": category, "Content-Type": "text/occi",
                "X-OCCI-Attribute": "icclab.disco.components.heat.slavecount=3"})
            assert status == 200, raw
            while True:
                signal_all(heat_url, tok, name, 3, signalled)
                _, _, raw = call("GET", url, tok, headers={"Accept": "application/occi+json"})
                state = json.loads(raw)["attributes"]["icclab.disco.state"]
                if state == "ready":
                    scale_time = time.monotonic() - t1
                    break
                assert state != "failed", raw
                time.sleep(0.1)
            time.sleep(0.5)
            scale_heat_requests = (log_lines() - before) - (heat_requests_by_me - mine_before)
            results.append((d, t, disco_heat_requests))
            print(f"run {run + 1}: direct {d:.2f} s, DISCO {t:.2f} s, ratio {t / d:.3f}, "
                  f"DISCO's Heat requests create->ready {disco_heat_requests}; "
                  f"scale 2->3 {scale_time:.2f} s with {scale_heat_requests} Heat requests", flush=True)
            call("DELETE", url, tok)
            call("DELETE", staged, tok)
    finally:
        time.sleep(3)
        server.terminate()
        server.wait()
    ds, ts = sorted(r[0] for r in results), sorted(r[1] for r in results)
    print(f"median: direct {ds[len(ds) // 2]:.2f} s, DISCO {ts[len(ts) // 2]:.2f} s, "
          f"ratio {ts[len(ts) // 2] / ds[len(ds) // 2]:.3f}")


if __name__ == "__main__":
    main()
