#!/usr/bin/env python3
"""Creates per minute with a thousand clusters in flight, and what the servers hold
meanwhile: on SQLite and on PostgreSQL, one replica and three, in one run.

Usage: benches/creates.py [CLUSTERS] [DEPLOY_SECS]    (default 1300 clusters, 120 s)

Builds target/release/disco with the `bench-provider` feature (or runs $DISCO_BINARY,
built so): the file provider whose deploys take DEPLOY_SECS from the create
(src/providers/timed.rs), a benchmark-only stand-in for a cloud that keeps a deploy's
job running (polled) that long. 16 client threads create CLUSTERS Dask clusters as fast
as the servers take them (a request at a time each, ten tenants in turn, the replicas
in turn); every create is a 201. The rates are taken from when each create was
answered: over creates 1-200 (next to nothing in flight) and from the 1,000th on (a
thousand and more deploying). At the 1,000th create: the servers' threads and resident
memory (summed over the replicas). Then every cluster must reach ready (from /metrics'
disco_clusters), which gives the rate the deploys finish at. PostgreSQL is a server of
the benchmark's own, Debian's postgresql (benches/postgres.py).
"""

import http.client
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from disco_server import start_server, stop_server  # noqa: E402
from postgres import Postgres  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
CATEGORY = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind"'
DASK = "icclab.disco.dependencies.inject=\"['dask']\""
CLIENTS = 16
TENANTS = 10


def binary():
    if "DISCO_BINARY" in os.environ:
        return os.environ["DISCO_BINARY"]
    subprocess.run(["cargo", "build", "--release", "--features", "bench-provider"],
                   cwd=ROOT, check=True)
    return os.path.join(TARGET, "release", "disco")


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()[0] if value.split() else ""
    return int(fields["Threads"]), int(fields["VmRSS"])


def ready_count(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(int(float(m)) for m in re.findall(
        r'^disco_clusters\{[^}]*state="ready"[^}]*\} (\S+)$', text, re.M))


def run(label, servers, clusters, deploy_secs):
    """Creates `clusters` through `servers` [(process, port)]; the figures."""
    ports = [port for _, port in servers]
    answered = []  # (monotonic time, in order of answer)
    lock = threading.Lock()
    at_thousand = {}
    counter = iter(range(clusters))
    failures = []

    def client(k):
        conns = {}
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            port = ports[i % len(ports)]
            conn = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conns[port] = conn
            conn.request("POST", "/disco/", headers={
                "Category": CATEGORY, "Content-Type": "text/occi",
                "X-OCCI-Attribute": DASK, "X-Tenant-Name": f"bench-{i % TENANTS}",
            })
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                failures.append(response.status)
                return
            with lock:
                answered.append(time.monotonic())
                if len(answered) == 1000:
                    at_thousand["status"] = [proc_status(p.pid) for p, _ in servers]

    started = [proc_status(p.pid) for p, _ in servers]
    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"{label}: creates refused: {failures[:5]}")
    created = time.monotonic()

    def per_minute(first, last):
        return (last - first) / (answered[last - 1] - answered[first - 1]) * 60

    deadline = created + deploy_secs + 600
    ready = 0
    while time.monotonic() < deadline:
        ready = ready_count(ports[0])
        if ready >= clusters:
            break
        time.sleep(1)
    if ready < clusters:
        sys.exit(f"{label}: {ready} of {clusters} clusters ready")
    done = time.monotonic()
    threads_then = sum(s[0] for s in at_thousand["status"])
    rss_then = sum(s[1] for s in at_thousand["status"]) / 1024
    return {
        "early": per_minute(2, 200),
        "loaded": per_minute(1000, clusters),
        "threads": (sum(s[0] for s in started), threads_then),
        "rss": (sum(s[1] for s in started) / 1024, rss_then),
        "all_created_s": created - t0,
        "ready_after_s": done - t0,
    }


def main():
    clusters = int(sys.argv[1]) if len(sys.argv) > 1 else 1300
    deploy_secs = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    if clusters < 1100:
        sys.exit("CLUSTERS must be over 1,100: the loaded rate is taken from the 1,000th on")
    disco = binary()
    env = {"DISCO_BENCH_DEPLOY_SECS": str(deploy_secs)}
    figures = {}
    with tempfile.TemporaryDirectory() as tmp, Postgres() as pg:
        setups = [("SQLite, one replica", None, 1),
                  ("PostgreSQL, one replica", "one", 1),
                  ("PostgreSQL, three replicas", "three", 3)]
        for label, database, count in setups:
            servers = []
            try:
                extra = dict(env)
                if database:
                    extra["DISCO_STORE__URL"] = pg.fresh_database(f"bench_creates_{database}")
                for i in range(count):
                    data = os.path.join(tmp, f"{database or 'sqlite'}-{i}")
                    os.makedirs(data)
                    servers.append(start_server(disco, data, "file", dict(
                        extra, DISCO_REPLICA__NAME=f"bench-{i}")))
                figures[label] = run(label, servers, clusters, deploy_secs)
                print(f"{label}: done", file=sys.stderr)
            finally:
                for proc, _ in servers:
                    stop_server(proc)

    print(f"{clusters} creates by {CLIENTS} clients, file deploys of {deploy_secs} s "
          "(benchmark build)")
    base = figures["SQLite, one replica"]["loaded"]
    for label, f in figures.items():
        print(f"  {label}:")
        print(f"    creates/min, creates 2-200:         {f['early']:8.0f}")
        print(f"    creates/min, 1,000+ in flight:      {f['loaded']:8.0f}"
              f"   ({f['loaded'] / f['early']:.2f} of its own early rate,"
              f" {f['loaded'] / base:.2f} of SQLite's one replica)")
        print(f"    threads at start / at 1,000 in flight: {f['threads'][0]} / {f['threads'][1]}")
        print(f"    RSS MiB at start / at 1,000 in flight: {f['rss'][0]:.1f} / {f['rss'][1]:.1f}")
        print(f"    all created after {f['all_created_s']:.1f} s, all ready after "
              f"{f['ready_after_s']:.1f} s")


if __name__ == "__main__":
    main()
