#!/usr/bin/env python3
"""The Neutron part of fake_cloud.py alone, on 127.0.0.1:9696.

The test bed runs the real Glance and the real Nova API now; Heat still needs something
answering on the network endpoint of the catalog (``GET /v2.0/extensions``, networks,
subnets, ... read-only, see fake_cloud.py).

Besides, Neutron's quotas API as Neutron has it, kept in memory, so that a test can set a
project's quotas low the way it would on a real cloud:

- ``GET /v2.0/quotas/{project_id}``: the project's limits (Neutron's defaults unless set);
- ``GET /v2.0/quotas/{project_id}/details.json``: ``limit``, ``used`` and ``reserved`` of
  each (nothing is ever used: the servers, ports and floating IPs are Heat stand-ins);
- ``GET /v2.0/quotas/{project_id}/default``: the defaults;
- ``PUT /v2.0/quotas/{project_id}`` with ``{"quota": {"floatingip": 0, ...}}`` and
  ``DELETE /v2.0/quotas/{project_id}`` (back to the defaults): admin only, the caller's
  ``X-Auth-Token`` checked with Keystone.
"""
import json
import os
import re
import sys
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import fake_cloud

# Neutron's own defaults (neutron/conf/quota.py); -1 is unlimited.
DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
            "security_group": 10, "security_group_rule": 100, "rbac_policy": 10,
            "subnetpool": -1}
QUOTAS = {}  # project id -> {resource: limit} set by PUT
LOCK = threading.Lock()
KEYSTONE = "http://%s:%s/v3" % (fake_cloud.HOST, os.environ.get("KS_PORT", "5000"))
QUOTA_PATH = re.compile(r"^/v2\.0/quotas/([^/.]+)(?:\.json)?(/details|/default)?(?:\.json)?$")


def limits(project):
    with LOCK:
        return dict(DEFAULTS, **QUOTAS.get(project, {}))


def quotas(path):
    """The answer to a GET of the quotas API, or None when `path` is not one."""
    m = QUOTA_PATH.match(path)
    if not m:
        return None
    project, part = m.group(1), m.group(2)
    if part == "/default":
        return 200, {"quota": dict(DEFAULTS)}
    if part == "/details":
        return 200, {"quota": {r: {"limit": n, "used": 0, "reserved": 0}
                               for r, n in limits(project).items()}}
    return 200, {"quota": limits(project)}


def is_admin(token):
    """Whether Keystone says `token` is valid and carries the admin role."""
    if not token:
        return False
    req = urllib.request.Request(KEYSTONE + "/auth/tokens",
                                 headers={"X-Auth-Token": token, "X-Subject-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body = json.load(r)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return any(role.get("name") == "admin" for role in body.get("token", {}).get("roles", []))


def handler():
    base = fake_cloud.handler(fake_cloud.NEUTRON)

    class H(base):
        def do_GET(self):
            path = self.path.split("?", 1)[0].rstrip("/")
            answer = quotas(path)
            if answer is None:
                return base.do_GET(self)
            print(fake_cloud.NEUTRON, self.command, self.path, "->", answer[0], flush=True)
            self.answer(*answer)

        do_HEAD = do_GET

        def change(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            m = QUOTA_PATH.match(self.path.split("?", 1)[0].rstrip("/"))
            if not m or m.group(2):
                return base.refuse(self)
            if not is_admin(self.headers.get("X-Auth-Token")):
                return self.answer(403, {"NeutronError": {
                    "type": "PolicyNotAuthorized", "detail": "",
                    "message": "rule:update_quota is disallowed by policy"}})
            project = m.group(1)
            if self.command == "DELETE":
                with LOCK:
                    QUOTAS.pop(project, None)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            try:
                given = json.loads(raw or b"{}")["quota"]
                changes = {r: int(v) for r, v in given.items()}
            except (ValueError, KeyError, TypeError, AttributeError):
                return self.answer(400, {"NeutronError": {
                    "type": "HTTPBadRequest", "detail": "",
                    "message": "a body {\"quota\": {resource: integer, ...}} is expected"}})
            unknown = sorted(set(changes) - set(DEFAULTS))
            if unknown or any(v < -1 for v in changes.values()):
                return self.answer(400, {"NeutronError": {
                    "type": "HTTPBadRequest", "detail": "",
                    "message": "Invalid input for quota: %s" % (unknown or changes)}})
            with LOCK:
                QUOTAS.setdefault(project, {}).update(changes)
            print(fake_cloud.NEUTRON, self.command, self.path, "-> 200", flush=True)
            return self.answer(200, {"quota": limits(project)})

        do_PUT = do_DELETE = change

    return H


def main():
    server = ThreadingHTTPServer((fake_cloud.HOST, fake_cloud.NEUTRON), handler())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("fake neutron :%d on %s" % (fake_cloud.NEUTRON, fake_cloud.HOST), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
