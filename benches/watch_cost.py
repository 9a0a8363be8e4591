#!/usr/bin/env python3
"""What watching ready clusters costs the server: CLUSTERS ready clusters (the file
provider, so that nothing but the watcher runs; it has no nodes, so no health checks
run: this is the cost of the rounds themselves — listing the clusters, health, activity,
expiry, failed-cluster cleanup and leftovers), watched every second
(`jobs.watch_interval_secs = 1`) for HOLD seconds, against the same server and clusters watched once an hour (the
baseline, same session). Prints, as one JSON object: the server's CPU (share of one
core) in both runs, their ratio, the CPU per cluster per round, the requests the
watcher made of the store per minute (rounds x clusters), and what a VM's health
reporter sends per node per hour (one heartbeat of a Spark master, as
heat-templates/node-lib.sh builds it, every 30 s).

Usage: benches/watch_cost.py [BINARY] [CLUSTERS] [HOLD]
       (default: $CARGO_TARGET_DIR/debug/disco, else target/debug/disco; 100; 30)
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TARGET, "debug", "disco")
CLUSTERS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
HOLD = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
CATEGORY = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind"'
TICKS = os.sysconf("SC_CLK_TCK")
HEARTBEATS_PER_HOUR = 3600 // 30

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from disco_server import start_server  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def create(port, n):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/disco/",
        method="POST",
        headers={
            "Category": CATEGORY,
            "Content-Type": "text/occi",
            "X-OCCI-Attribute": "icclab.disco.dependencies.inject=\"['spark']\","
            f"icclab.disco.name=\"watched-{n}\"",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["Location"]


def state(location):
    request = urllib.request.Request(location, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["attributes"]["icclab.disco.state"]


def run(data_dir, interval):
    os.environ["DISCO_JOBS__WATCH_INTERVAL_SECS"] = str(interval)
    proc, port = start_server(BINARY, data_dir, "file")
    try:
        locations = [create(port, n) for n in range(CLUSTERS)] if interval != 3600 else None
        if locations:
            deadline = time.monotonic() + 120
            while any(state(loc) != "ready" for loc in locations):
                if time.monotonic() > deadline:
                    sys.exit("the clusters never became ready")
                time.sleep(0.5)
        time.sleep(2)  # the start-up round and the creates settle
        start = cpu_seconds(proc.pid)
        time.sleep(HOLD)
        return (cpu_seconds(proc.pid) - start) / HOLD
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def heartbeat_bytes():
    """One Spark master's heartbeat as the reporter sends it: the request line, the
    headers curl sends, and the body node-lib builds (every check failing, so that each
    carries its output: the largest it is)."""
    lib = os.path.join(ROOT, "heat-templates", "node-lib.sh")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            DISCO_LOG_DIR=tmp,
            DISCO_HOME=tmp,
            DISCO_SERVICES_DIR=os.path.join(tmp, "services"),
            DISCO_NODE="master",
            DISCO_NODE_ADDRESS="127.0.0.1",
            DISCO_HEALTH_CHECKS="spark tcp 7077\nspark http 8080 /json/ 200",
            DISCO_ACTIVITY_STEPS="",
        )
        os.makedirs(env["DISCO_SERVICES_DIR"])
        for unit in ("spark-master", "spark-worker"):
            with open(os.path.join(env["DISCO_SERVICES_DIR"], unit), "w") as f:
                f.write("spark\n")
        body = subprocess.run(
            ["bash", "-c", f'source "{lib}" && disco_health_heartbeat'],
            env=env, capture_output=True, check=True, text=True,
        ).stdout.strip()
    head = (
        "POST /disco/00000000-0000-4000-8000-000000000000/health HTTP/1.1\r\n"
        "Host: disco.example.org\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"
        f"Authorization: Bearer {'x' * 43}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    answer = "HTTP/1.1 204 No Content\r\ncontent-security-policy: x\r\ndate: x\r\n\r\n"
    return len(head) + len(body), len(answer)


def main():
    with tempfile.TemporaryDirectory() as watched_dir:
        watched = run(watched_dir, 1)
        # The same clusters, the same database, watched once an hour.
        baseline = run(watched_dir, 3600)
    sent, received = heartbeat_bytes()
    rounds = HOLD  # one a second
    print(json.dumps({
        "clusters": CLUSTERS,
        "hold_secs": HOLD,
        "cpu_watched_every_1s": round(watched, 4),
        "cpu_baseline_watched_hourly": round(baseline, 4),
        "ratio": round(watched / baseline, 2) if baseline > 0 else None,
        "cpu_ms_per_cluster_round": round((watched - baseline) * 1000 / CLUSTERS, 3),
        "cpu_at_30s_interval_for_these_clusters": round(baseline + (watched - baseline) / 30, 4),
        "cluster_looks_per_minute_at_1s": int(60 * CLUSTERS),
        "heartbeat_request_bytes": sent,
        "heartbeat_answer_bytes": received,
        "reporter_bytes_per_node_per_hour": (sent + received) * HEARTBEATS_PER_HOUR,
        "rounds": int(rounds),
    }, indent=2))


if __name__ == "__main__":
    main()
