#!/usr/bin/env python3
"""POST -> ready of a local Spark cluster through DISCO, against the same processes
started by hand (the commands of the reference local bed: a standalone master and N
workers from the pyspark package, ready when the master lists N ALIVE workers).

Usage: benches/local_ratio.py [RUNS] [SLAVES...]    (default: 5 runs, 1 and 2 slaves)

Needs a release build (cargo build --release) and the spark-3.5.3 environment in
the environments directory (any local Spark cluster makes it). Prints each run, the medians,
their ratio, the peak memory of the DISCO server (VmHWM) and the memory of the
cluster's processes at ready (sum of RSS).
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "disco")
# Where DISCO keeps the environments: /var/cache/disco/venvs as root, else ~/.cache.
VENV = (
    "/var/cache/disco/venvs/spark-3.5.3"
    if os.geteuid() == 0
    else os.path.expanduser("~/.cache/disco/venvs/spark-3.5.3")
)
CATEGORY = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind"'


def get(url, headers=None, timeout=2):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read().decode()


def alive_workers(master):
    try:
        return json.loads(get(f"http://{master}:8080/json/")[1]).get("aliveworkers", 0)
    except Exception:
        return 0


def by_hand(slaves, work):
    """The reference bed's start.sh, for `slaves` workers, on 127.0.200.x."""
    spark_home = subprocess.check_output(
        [f"{VENV}/bin/python", "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"],
        text=True,
    ).strip()
    java = os.path.realpath(shutil.which("java"))
    env = dict(os.environ, SPARK_HOME=spark_home, JAVA_HOME=os.path.dirname(os.path.dirname(java)),
               PYSPARK_PYTHON=f"{VENV}/bin/python", SPARK_LOG_DIR=f"{work}/logs",
               SPARK_NO_DAEMONIZE="1", SPARK_DAEMON_MEMORY="512m")
    os.makedirs(f"{work}/logs", exist_ok=True)
    master = "127.0.200.10"
    started = time.monotonic()
    procs = [subprocess.Popen(
        [f"{spark_home}/bin/spark-class", "org.apache.spark.deploy.master.Master",
         "--host", master, "--port", "7077", "--webui-port", "8080"],
        env=dict(env, SPARK_LOCAL_IP=master), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)]
    for i in range(1, slaves + 1):
        ip = f"127.0.200.{10 + i}"
        os.makedirs(f"{work}/work{i}", exist_ok=True)
        procs.append(subprocess.Popen(
            [f"{spark_home}/bin/spark-class", "org.apache.spark.deploy.worker.Worker",
             "--host", ip, "--port", "7078", "--webui-port", "8081", "--cores", "1",
             "--memory", "1g", "--work-dir", f"{work}/work{i}", f"spark://{master}:7077"],
            env=dict(env, SPARK_LOCAL_IP=ip), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True))
    while alive_workers(master) != slaves:
        time.sleep(0.5)  # as the reference bed polls
    elapsed = time.monotonic() - started
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait()
    return elapsed


def cluster_rss(cluster):
    total = 0
    marker = f"DISCO_CLUSTER_ID={cluster}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total // 1024


def through_disco(base, slaves):
    body = (f"icclab.disco.dependencies.inject=\"{{'spark': {{'worker_cores': 1}}}}\","
            f"icclab.disco.components.heat.slavecount={slaves}")
    request = urllib.request.Request(f"{base}/disco/", method="POST",
                                     headers={"Category": CATEGORY, "X-OCCI-Attribute": body})
    started = time.monotonic()
    with urllib.request.urlopen(request) as response:
        location = response.headers["Location"]
    while True:
        text = get(location, {"Accept": "application/occi+json"})[1]
        state = json.loads(text)["attributes"]["icclab.disco.state"]
        if state == "ready":
            break
        if state == "failed":
            sys.exit(f"failed: {text}")
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    rss = cluster_rss(location.rsplit("/", 1)[1])
    urllib.request.urlopen(urllib.request.Request(location, method="DELETE")).read()
    while True:
        try:
            get(location)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                break
        time.sleep(0.2)
    return elapsed, rss


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    slave_counts = [int(a) for a in sys.argv[2:]] or [1, 2]
    data = tempfile.mkdtemp(prefix="disco-ratio-")
    log = open(os.path.join(data, "server.log"), "w")
    server = subprocess.Popen([BINARY, "serve", "--listen", "127.0.0.1:18888", "--data-dir", data,
                               "--provider", "local"], stdout=log, stderr=log)
    base = "http://127.0.0.1:18888"
    for _ in range(100):
        try:
            get(f"{base}/healthz")
            break
        except Exception:
            time.sleep(0.1)
    try:
        for slaves in slave_counts:
            hand, disco, rss = [], [], []
            for run in range(runs):
                with tempfile.TemporaryDirectory() as work:
                    hand.append(by_hand(slaves, work))
                d, r = through_disco(base, slaves)
                disco.append(d)
                rss.append(r)
                print(f"spark 1+{slaves} run {run + 1}: by hand {hand[-1]:.2f} s, "
                      f"DISCO {d:.2f} s, cluster RSS {r} MiB", flush=True)
            mh, md = statistics.median(hand), statistics.median(disco)
            print(f"spark 1+{slaves}: median by hand {mh:.2f} s, DISCO {md:.2f} s, "
                  f"ratio {md / mh:.3f}; cluster RSS at ready {max(rss)} MiB (max)")
        with open(f"/proc/{server.pid}/status") as f:
            peak = next(line for line in f if line.startswith("VmHWM:"))
        print(f"DISCO server peak RSS ({peak.split(':')[0]}): {peak.split(':')[1].strip()}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
