"""A `disco serve` of a benchmark's own: on a free loopback port, with a fresh data
directory, no OpenStack credentials from the caller's environment, and its log in the
data directory."""

import os
import re
import subprocess
import sys
import time


def start_server(binary, data_dir, provider):
    """Starts the server with `provider` as the default; (process, port) once it listens."""
    log_path = os.path.join(data_dir, "server.log")
    log = open(log_path, "w")
    env = dict(os.environ, DISCO_PROVIDER__DEFAULT=provider, RUST_LOG="warn,disco=info")
    for key in [k for k in env if k.startswith("OS_")]:
        del env[key]
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=log, stderr=log, env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log_path) as f:
            found = re.search(r"DISCO is listening.*?port=(\d+)", f.read())
        if found:
            return proc, int(found.group(1))
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"the server did not start; see {log_path}")
