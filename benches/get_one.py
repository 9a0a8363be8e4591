#!/usr/bin/env python3
"""GET of one cluster (`GET /disco/UUID`, what `curl` and the seed's scripts poll)
against a static file of the same bytes served by nginx on this machine, in one run.

Usage: benches/get_one.py [SECONDS] [CONNECTIONS]    (default 10 s, 64 connections)

Needs `wrk` and `nginx` (Debian: apt-get install wrk nginx-light) and, for the replicas
on PostgreSQL, Debian's `postgresql` (a server of the benchmark's own is started on a
loopback port). Runs target/release/disco (or $DISCO_BINARY) with the file provider:
one ready cluster, asked for as curl asks (Accept: */*, the text rendering). Measured:
  - nginx serving the cluster's bytes from a file (2 workers: the machine's cores);
  - one replica on SQLite (the embedded default);
  - one replica on PostgreSQL;
  - three replicas on one PostgreSQL, a wrk on each at once (the sum), the cluster
    created through the first.
Each is `wrk -t2 -cCONNECTIONS -dSECONDS` (the three replicas: one thread and a third
of the connections each), after a 2 s warm-up; the figure is requests per second and
its ratio to nginx's.
"""

import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from disco_server import start_server, stop_server  # noqa: E402
from postgres import Postgres  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = os.environ.get("DISCO_BINARY", os.path.join(TARGET, "release", "disco"))
CATEGORY = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind"'
DASK = "icclab.disco.dependencies.inject=\"['dask']\""


def create_ready(port):
    """A ready cluster of the default tenant: its path and its GET's body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/disco/", headers={
        "Category": CATEGORY, "Content-Type": "text/occi", "X-OCCI-Attribute": DASK,
    })
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        sys.exit(f"the create was refused: {response.status}")
    path = "/" + response.getheader("Location").split("/", 3)[3]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn.request("GET", path, headers={"Accept": "*/*"})
        response = conn.getresponse()
        body = response.read()
        if b'icclab.disco.state="ready"' in body:
            return path, body
        time.sleep(0.2)
    sys.exit("the cluster did not get ready")


def wrk(url, seconds, connections, threads=2):
    """Requests per second of wrk on `url`, after a 2 s warm-up."""
    base = ["wrk", "-H", "Accept: */*", f"-t{threads}", f"-c{connections}"]
    subprocess.run(base + ["-d2s", url], check=True, stdout=subprocess.DEVNULL)
    return base + [f"-d{seconds}s", "--latency", url]


def rate(outputs):
    total = 0.0
    for out in outputs:
        if "Non-2xx" in out or "Socket errors" in out:
            sys.exit(f"wrk saw errors:\n{out}")
        total += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return total


def run_all(commands):
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
    return rate([p.communicate()[0] for p in procs])


def nginx(tmp, body):
    """nginx serving `body` at /cluster; (process, port)."""
    root = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(root, "html"))
    # nginx's workers run as nobody when it is started as root: they must reach the file.
    for d in (tmp, root, os.path.join(root, "html")):
        os.chmod(d, 0o755)
    with open(os.path.join(root, "html", "cluster"), "wb") as f:
        f.write(body)
    os.chmod(os.path.join(root, "html", "cluster"), 0o644)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(os.path.join(root, "nginx.conf"), "w") as f:
        f.write(f"""
worker_processes 2;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type "text/plain; charset=utf-8";
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root}/html;
        add_header Cache-Control no-store;
    }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", root, "-c", os.path.join(root, "nginx.conf")])
    time.sleep(1)
    return proc, port


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    figures = {}
    with tempfile.TemporaryDirectory() as tmp, Postgres() as pg:
        data = os.path.join(tmp, "sqlite")
        os.makedirs(data)
        server, port = start_server(BINARY, data, "file")
        try:
            path, body = create_ready(port)
            figures["one replica, SQLite"] = run_all(
                [wrk(f"http://127.0.0.1:{port}{path}", seconds, connections)])
        finally:
            stop_server(server)

        proc, nginx_port = nginx(tmp, body)
        try:
            figures["nginx, a file of the same bytes"] = run_all(
                [wrk(f"http://127.0.0.1:{nginx_port}/cluster", seconds, connections)])
        finally:
            proc.terminate()
            proc.wait()

        store = pg.fresh_database("bench_get_one")
        replicas = []
        try:
            for i in range(3):
                data = os.path.join(tmp, f"replica-{i}")
                os.makedirs(data)
                replicas.append(start_server(BINARY, data, "file", {
                    "DISCO_STORE__URL": store, "DISCO_REPLICA__NAME": f"bench-{i}",
                }))
            path, _ = create_ready(replicas[0][1])
            urls = [f"http://127.0.0.1:{p}{path}" for _, p in replicas]
            figures["one replica, PostgreSQL"] = run_all([wrk(urls[0], seconds, connections)])
            share = max(1, connections // 3)
            figures["three replicas, PostgreSQL (sum)"] = run_all(
                [wrk(u, seconds, share, threads=1) for u in urls])
        finally:
            for proc, _ in replicas:
                stop_server(proc)

    baseline = figures["nginx, a file of the same bytes"]
    print(f"GET /disco/UUID, {len(body)} B, wrk {seconds} s, {connections} connections")
    for label, value in figures.items():
        print(f"  {label:36} {value:10.0f} req/s   {value / baseline:5.2f} of nginx")


if __name__ == "__main__":
    main()
