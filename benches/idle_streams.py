#!/usr/bin/env python3
"""What idle event streams cost the server: STREAMS streams (`GET /disco/UUID/events`)
of staged clusters, which stay pending and so never end, held open on loopback for
HOLD seconds; then every client closes its connection and the server is watched a
while longer, to see that it lets the closed streams go.

Usage: benches/idle_streams.py [BINARY] [STREAMS] [HOLD]
       (default: $CARGO_TARGET_DIR/debug/disco, else target/debug/disco; 1000; 20)

Starts its own `disco serve` on a free port with a fresh data directory (file
provider, auth none) and spreads the streams over TENANTS tenants, one staged cluster
each, to stay under the per-tenant cap. Samples the server's CPU time (utime + stime
from /proc/PID/stat) and its thread count (/proc/PID/status) and prints, as one JSON
object: CPU used while holding (as a share of one core), the most threads seen and those at
the end, and the CPU used in the window after the clients closed.
"""

import asyncio
import json
import os
import re
import sys
import tempfile
import time
import urllib.request

from disco_server import start_server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TARGET, "debug", "disco")
STREAMS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
HOLD = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
TENANTS = 20
AFTER_CLOSE_WAIT = 5.0  # grace for the server to notice the closed connections
AFTER_CLOSE_WINDOW = 10.0
CATEGORY = 'disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind"'
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces: fields count from after its ')'.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def threads(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))


def create_staged(port, tenant):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/disco/",
        method="POST",
        headers={
            "Category": CATEGORY,
            "Content-Type": "text/occi",
            "X-Tenant-Name": tenant,
            "X-OCCI-Attribute": "icclab.disco.dependencies.inject=\"['spark']\","
            "icclab.disco.stage=\"true\"",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Location"].rsplit("/", 1)[1]


async def open_stream(port, cluster, tenant):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /disco/{cluster}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"X-Tenant-Name: {tenant}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = (await reader.readline()).decode().strip()
    return status, reader, writer


async def drain(reader):
    try:
        while await reader.read(4096):
            pass
    except (ConnectionError, asyncio.CancelledError):
        pass


async def main():
    with tempfile.TemporaryDirectory() as data_dir:
        proc, port = start_server(BINARY, data_dir, "file")
        try:
            clusters = [(create_staged(port, f"t{i}"), f"t{i}") for i in range(TENANTS)]
            idle_cpu = cpu_seconds(proc.pid)
            await asyncio.sleep(2)
            idle_cpu = (cpu_seconds(proc.pid) - idle_cpu) / 2

            opened = await asyncio.gather(*[
                open_stream(port, *clusters[n % TENANTS]) for n in range(STREAMS)
            ])
            statuses = {}
            for status, _, _ in opened:
                statuses[status] = statuses.get(status, 0) + 1
            readers = [asyncio.create_task(drain(r)) for _, r, _ in opened]

            # Let the first looks settle, then measure the steady state.
            await asyncio.sleep(2)
            start = cpu_seconds(proc.pid)
            most_threads = threads(proc.pid)
            began = time.monotonic()
            while time.monotonic() - began < HOLD:
                await asyncio.sleep(0.5)
                most_threads = max(most_threads, threads(proc.pid))
            held_cpu = (cpu_seconds(proc.pid) - start) / (time.monotonic() - began)
            threads_at_end = threads(proc.pid)

            for task in readers:
                task.cancel()
            for _, _, writer in opened:
                writer.close()
            await asyncio.sleep(AFTER_CLOSE_WAIT)
            start = cpu_seconds(proc.pid)
            await asyncio.sleep(AFTER_CLOSE_WINDOW)
            closed_cpu = (cpu_seconds(proc.pid) - start) / AFTER_CLOSE_WINDOW

            print(json.dumps({
                "binary": BINARY,
                "streams": STREAMS,
                "answers": statuses,
                "hold_secs": HOLD,
                "cpu_share_idle_server": round(idle_cpu, 4),
                "cpu_share_holding": round(held_cpu, 4),
                "max_threads_holding": most_threads,
                "threads_end_of_hold": threads_at_end,
                "cpu_share_after_close": round(closed_cpu, 4),
                "threads_after_close": threads(proc.pid),
            }, indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    asyncio.run(main())
