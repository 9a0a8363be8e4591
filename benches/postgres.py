"""A PostgreSQL server of a benchmark's own (Debian's `postgresql` package): a fresh
cluster in a temporary directory on a free loopback port, trust authentication on
loopback only, stopped when the `with` block ends."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile


class Postgres:
    def __enter__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            sys.exit("no PostgreSQL server: apt-get install postgresql")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="disco-bench-postgres.")
        self.as_user = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = os.path.join(self.dir, "data")
        self._run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self._run("pg_ctl", "-D", data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=300", "start")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        return self

    def _run(self, program, *args):
        subprocess.run(self.as_user + [os.path.join(self.bin, program), *args],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def fresh_database(self, name):
        """A new empty database; its URL."""
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-c", f"CREATE DATABASE {name}")
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def __exit__(self, *_):
        self._run("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
