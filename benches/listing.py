#!/usr/bin/env python3
"""Listing at any size: GET /disco/ of one tenant's N stored clusters (default 20,000),
its time and the server's peak RSS, for a baseline binary and this one, in one run.

Usage: benches/listing.py OLD_BINARY [NEW_BINARY] [N]

OLD_BINARY is a `disco` built from the commit to compare with (main before the listing
streamed); NEW_BINARY defaults to target/release/disco (or $DISCO_BINARY). Build both
with the same profile. The clusters are made once: one staged cluster created through
the old server's API (file provider), then copied N-1 times in its SQLite file with new
ids, names and creation times; each server gets its own copy of that file (the new one
migrates its copy). Each server then answers the listing in JSON (what `disco ls` and
scripts read), text/plain and text/occi (the seed's command), three times each, and the
peak RSS is the kernel's VmHWM of the server process after them, beside its VmHWM just
after start.
"""

import http.client
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from disco_server import start_server, stop_server as stop  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
CATEGORY = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind"'
STAGED = "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true"
# text/occi puts every location in one header line, longer than http.client's default.
http.client._MAXLINE = 1 << 28
RENDERINGS = ["application/occi+json", "text/plain", "text/occi"]


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def seed(binary, data_dir, n):
    """The data directory's database with n clusters of the default tenant."""
    proc, port = start_server(binary, data_dir, "file")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            "/disco/",
            headers={
                "Category": CATEGORY,
                "Content-Type": "text/occi",
                "X-OCCI-Attribute": STAGED,
            },
        )
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            sys.exit(f"the seed create was refused: {response.status}")
    finally:
        stop(proc)
    db = sqlite3.connect(os.path.join(data_dir, "disco.db"))
    columns = [row[1] for row in db.execute("PRAGMA table_info(clusters)")]
    template = dict(zip(columns, db.execute("SELECT * FROM clusters").fetchone()))
    rows = []
    for i in range(1, n):
        row = dict(template)
        row["id"] = str(uuid.uuid4())
        row["name"] = f"{template['name']}-{i}"
        # Distinct, increasing creation times, in the store's format.
        row["created_at"] = template["created_at"][:-7] + f"{i % 1000000:06d}Z"
        rows.append(tuple(row[c] for c in columns))
    marks = ", ".join("?" for _ in columns)
    db.executemany(f"INSERT INTO clusters ({', '.join(columns)}) VALUES ({marks})", rows)
    db.commit()
    db.close()


def measure(binary, data_dir):
    proc, port = start_server(binary, data_dir, "file")
    try:
        # What start-up reads (the watcher's first round looks at every cluster's
        # lifetime) is not the listing's: wait until the peak holds still for 2 s.
        started_kib, still_since = vm_hwm_kib(proc.pid), time.monotonic()
        while time.monotonic() - still_since < 2:
            time.sleep(0.2)
            now_kib = vm_hwm_kib(proc.pid)
            if now_kib != started_kib:
                started_kib, still_since = now_kib, time.monotonic()
        results = {}
        for accept in RENDERINGS:
            times = []
            size = 0
            for _ in range(3):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                t0 = time.monotonic()
                conn.request("GET", "/disco/", headers={"Accept": accept})
                response = conn.getresponse()
                body = response.read()
                times.append(time.monotonic() - t0)
                if response.status != 200:
                    sys.exit(f"{binary}: GET /disco/ ({accept}) answered {response.status}")
                size = len(body) + sum(len(v) for _, v in response.getheaders())
                conn.close()
            results[accept] = (min(times), size)
        peak_kib = vm_hwm_kib(proc.pid)
        return started_kib, peak_kib, results
    finally:
        stop(proc)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    old = sys.argv[1]
    new = sys.argv[2] if len(sys.argv) > 2 else os.environ.get(
        "DISCO_BINARY", os.path.join(TARGET, "release", "disco")
    )
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    with tempfile.TemporaryDirectory() as tmp:
        seeded = os.path.join(tmp, "seed")
        os.makedirs(seeded)
        seed(old, seeded, n)
        figures = {}
        for label, binary in [("before", old), ("after", new)]:
            data_dir = os.path.join(tmp, label)
            os.makedirs(data_dir)
            shutil.copy(os.path.join(seeded, "disco.db"), os.path.join(data_dir, "disco.db"))
            figures[label] = measure(binary, data_dir)
    print(f"GET /disco/ of {n} clusters (best of 3; peak RSS = VmHWM after all renderings;"
          " at start: once start-up's peak held still for 2 s)")
    for label, (started, peak, results) in figures.items():
        print(f"  {label:6}  RSS at start {started / 1024:7.1f} MiB, peak {peak / 1024:7.1f} MiB")
        for accept, (secs, size) in results.items():
            print(f"          {accept:22} {secs:7.3f} s  {size / 1e6:8.2f} MB")
    (_, old_peak, old_results), (_, new_peak, new_results) = figures["before"], figures["after"]
    print(f"peak RSS after/before: {new_peak / old_peak:.2f}")
    for accept in RENDERINGS:
        print(f"time after/before, {accept}: {new_results[accept][0] / old_results[accept][0]:.2f}")


if __name__ == "__main__":
    main()
