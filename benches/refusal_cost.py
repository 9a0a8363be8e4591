#!/usr/bin/env python3
"""What one refused create costs: the bytes of the 400 and of the server's log, for
requests a client can make as large as it likes (an X-OCCI-Attribute of 30,000 unknown
names, a JSON body with names and a kind that carry newlines), and how slow /healthz gets
while four clients send the largest of them for a few seconds.

Usage: benches/refusal_cost.py [SECONDS]    (default: 8 s of flood; 0 skips it)

Runs target/debug/disco (or $DISCO_BINARY) with the file provider in a temporary data
directory, its log (the default text format) in a file there.
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = os.environ.get("DISCO_BINARY", os.path.join(TARGET, "debug", "disco"))
CATEGORY = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind"'


def start(data_dir):
    log_path = os.path.join(data_dir, "server.log")
    log = open(log_path, "wb")
    env = dict(os.environ, DISCO_PROVIDER__DEFAULT="file")
    env.pop("RUST_LOG", None)
    server = subprocess.Popen(
        [BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=log, stderr=log, env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log_path, errors="replace") as text:
            for line in text:
                if "DISCO is listening" in line and "port=" in line:
                    return server, log_path, int(line.split("port=")[1].split()[0])
        time.sleep(0.05)
    server.kill()
    sys.exit("disco did not start")


def post(port, headers, body=b""):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", "/disco/", body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def unknown_names(count):
    names = ",".join(["x=1"] * count)
    return {"Category": CATEGORY, "X-OCCI-Attribute": names}


def forged_json():
    body = json.dumps({
        "kind": "http://schemas.cloudcomplab.ch/occi/sm#disco\n2026-01-01T00:00:00Z ERROR FORGED",
        "attributes": {"foo\n2026-01-01T00:00:00Z ERROR disco: FORGED": 1},
    }).encode()
    return {"Content-Type": "application/occi+json"}, body


def measure(port, log_path, what, headers, body=b"", runs=5):
    sizes, logged = [], []
    for _ in range(runs):
        before = os.path.getsize(log_path)
        status, data = post(port, headers, body)
        time.sleep(0.2)  # the log line is written as the response goes out
        sizes.append(len(data))
        logged.append(os.path.getsize(log_path) - before)
    request_bytes = sum(len(k) + len(v) + 4 for k, v in headers.items()) + len(body)
    print(f"{what}: request {request_bytes} B -> {status}, response {statistics.median(sizes):.0f} B, "
          f"log {statistics.median(logged):.0f} B per request")
    return data


def healthz_ms(port):
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/healthz")
    connection.getresponse().read()
    connection.close()
    return (time.monotonic() - started) * 1000


def flood(port, log_path, seconds):
    idle = statistics.median(healthz_ms(port) for _ in range(20))
    stop = time.monotonic() + seconds
    before = os.path.getsize(log_path)
    sent = [0]

    def client():
        headers = unknown_names(30000)
        while time.monotonic() < stop:
            post(port, headers)
            sent[0] += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    busy = []
    while time.monotonic() < stop:
        busy.append(healthz_ms(port))
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    grown = os.path.getsize(log_path) - before
    print(f"flood: 4 clients, {seconds} s, {sent[0]} refused requests, log +{grown / 1e6:.1f} MB; "
          f"/healthz median {idle:.1f} ms idle, {statistics.median(busy):.1f} ms "
          f"(max {max(busy):.1f} ms) under the flood")


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8
    with tempfile.TemporaryDirectory() as data_dir:
        server, log_path, port = start(data_dir)
        try:
            body = measure(port, log_path, "30,000 unknown names", unknown_names(30000))
            print(f"  response begins: {body[:160]!r}")
            measure(port, log_path, "one unknown name", unknown_names(1))
            headers, json_body = forged_json()
            body = measure(port, log_path, "JSON kind and name with newlines", headers, json_body, runs=1)
            print(f"  response: {body[:300]!r}")
            if seconds > 0:
                flood(port, log_path, seconds)
            with open(log_path, errors="replace") as text:
                forged = [line for line in text if line.startswith("2026-01-01")]
            print(f"log lines a client forged: {len(forged)}")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
