#!/usr/bin/env python3
"""What a scale-out costs against a fresh create: a local Spark cluster of 1 master + 1
slave scaled to 3 slaves (POST ?action=scale -> ready), against a fresh create of 1 + 3
(POST -> ready), each RUNS times, through one `disco serve` of its own (local provider,
a fresh data directory). The scale should cost about the new nodes' start, not a whole
cluster's: the ratio of the medians is the figure.

Usage: benches/scale_cost.py [BINARY] [RUNS]
       (default: $CARGO_TARGET_DIR/debug/disco, else target/debug/disco; 3)

Needs the spark-3.5.3 environment made once (any local Spark cluster makes it), so that
neither side pays for the download. Prints each run and, as one JSON object, the
medians and their ratio.
"""

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request

from disco_server import start_server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TARGET, "debug", "disco")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
CATEGORY = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind"'
SLAVES = "icclab.disco.components.heat.slavecount"


def request(method, url, attributes=None):
    headers = {"Category": CATEGORY, "Accept": "application/json"}
    if attributes:
        headers["X-OCCI-Attribute"] = attributes
    req = urllib.request.Request(url, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.headers.get("Location"), response.read()


def state(url):
    _, body = request("GET", url)
    return json.loads(body)["attributes"]["icclab.disco.state"]


def wait_for(url, wanted, within=900):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        now = state(url)
        if now == wanted:
            return
        if now == "failed":
            sys.exit(f"{url} failed")
        time.sleep(0.05)
    sys.exit(f"{url} never became {wanted}")


def delete(url):
    request("DELETE", url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            state(url)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return
        time.sleep(0.2)


def main():
    scales, creates = [], []
    with tempfile.TemporaryDirectory() as data_dir:
        os.chmod(data_dir, 0o711)
        proc, port = start_server(BINARY, data_dir, "local")
        base = f"http://127.0.0.1:{port}/disco/"
        try:
            for run in range(RUNS):
                url, _ = request("POST", base, f"icclab.disco.dependencies.inject=\"['spark']\",{SLAVES}=1")
                wait_for(url, "ready")
                started = time.monotonic()
                request("POST", f"{url}?action=scale", f"{SLAVES}=3")
                wait_for(url, "scaling", 30) if state(url) != "ready" else None
                wait_for(url, "ready")
                scales.append(time.monotonic() - started)
                delete(url)

                started = time.monotonic()
                url, _ = request("POST", base, f"icclab.disco.dependencies.inject=\"['spark']\",{SLAVES}=3")
                wait_for(url, "ready")
                creates.append(time.monotonic() - started)
                delete(url)
                print(f"run {run + 1}: scale 1->3 {scales[-1]:.2f} s, create 1+3 {creates[-1]:.2f} s",
                      file=sys.stderr)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    scale, create = statistics.median(scales), statistics.median(creates)
    print(json.dumps({
        "runs": RUNS,
        "scale_1_to_3_median_s": round(scale, 2),
        "create_1_plus_3_median_s": round(create, 2),
        "scale_over_create": round(scale / create, 2),
    }))


if __name__ == "__main__":
    main()
