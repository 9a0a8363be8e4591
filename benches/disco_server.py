"""A `disco serve` of a benchmark's own: on a free loopback port, with a fresh data
directory, no OpenStack credentials from the caller's environment, and its log in the
data directory."""

import os
import re
import signal
import subprocess
import sys
import time


def start_server(binary, data_dir, provider, env=None):
    """Starts the server with `provider` as the default and `env` (DISCO_* settings) on
    top of the caller's environment; (process, port) once it listens."""
    log_path = os.path.join(data_dir, "server.log")
    log = open(log_path, "w")
    full = dict(os.environ, DISCO_PROVIDER__DEFAULT=provider, RUST_LOG="warn,disco=info")
    for key in [k for k in full if k.startswith("OS_")]:
        del full[key]
    full.update(env or {})
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=log, stderr=log, env=full,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log_path) as f:
            found = re.search(r"DISCO is listening.*?port=(\d+)", f.read())
        if found:
            return proc, int(found.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"the server did not start; see {log_path}")


def stop_server(proc):
    """SIGTERM, as systemd stops it; SIGKILL after 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
