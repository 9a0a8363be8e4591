#!/usr/bin/env python3
"""Canned Nova, Neutron and Glance answers for the DISCO test bed (stdlib only).

Heat needs these services in the catalog, and something answering there, to validate a
template (``POST /v1/{project}/validate``) and to check parameter constraints such as
``glance.image``, ``nova.flavor``, ``nova.keypair`` and ``neutron.network``. Nothing
here creates anything: stacks map servers and networks to stand-ins with the Heat
environment in ``heat-env/``. Read-only lookups only; any write answers 501.

Listens on 127.0.0.1 only: nova :8774, neutron :9696, glance :9292.

Known names (a lookup of anything else answers 404, so a template that names an image,
flavor, network or key pair that does not exist fails its constraint as on a real cloud):
  images    ubuntu-22.04 ubuntu-24.04 ubuntu-20.04 debian-12 cirros
  flavors   m1.tiny m1.small m1.medium m1.large m1.xlarge
  networks  public (external) private
  subnets   private-subnet
  keypairs  default disco
  secgroups default
Set FAKE_CLOUD_DATA=/path/to.json to add more: {"images": ["name", ...],
"flavors": ["name", ...], "networks": ["name", ...], "keypairs": ["name", ...]}.
"""
import json
import os
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
NOVA, NEUTRON, GLANCE = 8774, 9696, 9292
NS = uuid.UUID("5d0e1a0e-0000-4000-8000-000000000000")


def uid(kind, name):
    return str(uuid.uuid5(NS, kind + ":" + name))


EXTRA = {}
if os.environ.get("FAKE_CLOUD_DATA"):
    with open(os.environ["FAKE_CLOUD_DATA"]) as f:
        EXTRA = json.load(f)

IMAGES = [{"id": uid("image", n), "name": n, "status": "active", "visibility": "public",
           "min_disk": 0, "min_ram": 0, "disk_format": "qcow2", "container_format": "bare",
           "size": 1073741824, "tags": [], "protected": False, "os_hidden": False,
           "owner": "0" * 32, "created_at": "2026-01-01T00:00:00Z",
           "updated_at": "2026-01-01T00:00:00Z", "self": "/v2/images/" + uid("image", n),
           "file": "/v2/images/%s/file" % uid("image", n), "schema": "/v2/schemas/image"}
          for n in ["ubuntu-22.04", "ubuntu-24.04", "ubuntu-20.04", "debian-12", "cirros"]
          + EXTRA.get("images", [])]
FLAVORS = [{"id": str(i + 1), "name": n, "ram": ram, "vcpus": cpu, "disk": disk,
            "OS-FLV-EXT-DATA:ephemeral": 0, "swap": 0, "rxtx_factor": 1.0,
            "os-flavor-access:is_public": True, "OS-FLV-DISABLED:disabled": False,
            "description": None, "extra_specs": {}, "links": []}
           for i, (n, ram, cpu, disk) in enumerate(
               [("m1.tiny", 512, 1, 1), ("m1.small", 2048, 1, 20), ("m1.medium", 4096, 2, 40),
                ("m1.large", 8192, 4, 80), ("m1.xlarge", 16384, 8, 160)]
               + [(n, 2048, 1, 20) for n in EXTRA.get("flavors", [])])]
KEYPAIRS = [{"name": n, "type": "ssh", "fingerprint": "00:" * 15 + "00", "user_id": "0" * 32,
             "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake %s" % n}
            for n in ["default", "disco"] + EXTRA.get("keypairs", [])]


def network(n, external):
    return {"id": uid("network", n), "name": n, "router:external": external, "status": "ACTIVE",
            "subnets": [uid("subnet", "private-subnet")] if n == "private" else [],
            "admin_state_up": True, "shared": external, "mtu": 1450, "tenant_id": "0" * 32,
            "project_id": "0" * 32, "port_security_enabled": True, "tags": [],
            "availability_zones": ["nova"], "provider:network_type": "vxlan"}


COLLECTIONS = {
    "networks": [network("public", True), network("private", False)]
                + [network(n, False) for n in EXTRA.get("networks", [])],
    "subnets": [{"id": uid("subnet", "private-subnet"), "name": "private-subnet",
                 "network_id": uid("network", "private"), "cidr": "10.0.0.0/24", "ip_version": 4,
                 "enable_dhcp": True, "gateway_ip": "10.0.0.1", "tags": [],
                 "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.254"}]}],
    "security-groups": [{"id": uid("secgroup", "default"), "name": "default",
                         "description": "default", "security_group_rules": [], "tags": []}],
    "ports": [], "routers": [], "floatingips": [], "subnetpools": [], "qos-policies": [],
    "address-scopes": [], "security-group-rules": [], "trunks": [], "segments": [],
}
EXTENSIONS = ["router", "security-group", "external-net", "extraroute", "binding", "quotas",
              "agent", "subnet_allocation", "port-security", "dns-integration",
              "standard-attr-tag", "standard-attr-description", "allowed-address-pairs",
              "extra_dhcp_opt", "l3-ha", "dvr", "qos", "trunk", "availability_zone",
              "network_availability_zone", "router_availability_zone", "ext-gw-mode",
              "fip-port-details", "net-mtu", "project-id", "provider"]


def filtered(items, query):
    """Neutron/Glance-style list filter: every non-paging query key must match."""
    out = []
    for it in items:
        ok = True
        for k, vals in query.items():
            if k in ("fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse",
                     "tenant_id", "project_id", "member_status", "visibility", "is_public"):
                continue
            if k in it and str(it[k]) not in vals and not (
                    isinstance(it[k], bool) and str(it[k]).lower() in [v.lower() for v in vals]):
                ok = False
        if ok:
            out.append(it)
    if query.get("marker"):
        return []          # one page only: end any pagination loop
    if "fields" in query:
        out = [{k: v for k, v in it.items() if k in query["fields"]} for it in out]
    return out


def nova(path, q):
    version = {"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1",
               "updated": "2013-07-23T11:33:21Z",
               "links": [{"rel": "self", "href": "http://%s:%d/v2.1/" % (HOST, NOVA)}],
               "media-types": [{"base": "application/json",
                                "type": "application/vnd.openstack.compute+json;version=2.1"}]}
    if path in ("", "/v2.1"):
        return 200, {"version": version, "versions": [version]}
    m = re.match(r"^/v2\.1(?:/[0-9a-f]{32})?(/.*)$", path)
    if not m:
        return 404, {"itemNotFound": {"code": 404, "message": "not faked: " + path}}
    p = m.group(1)
    if p in ("/flavors", "/flavors/detail"):
        return 200, {"flavors": [] if q.get("marker") else FLAVORS}
    m = re.match(r"^/flavors/([^/]+)(/os-extra_specs)?$", p)
    if m:
        f = [f for f in FLAVORS if f["id"] == m.group(1)]
        if not f:
            return 404, {"itemNotFound": {"code": 404, "message": "Flavor %s could not be found." % m.group(1)}}
        return 200, ({"extra_specs": {}} if m.group(2) else {"flavor": f[0]})
    if p == "/os-keypairs":
        return 200, {"keypairs": [{"keypair": k} for k in KEYPAIRS]}
    m = re.match(r"^/os-keypairs/([^/]+)$", p)
    if m:
        k = [k for k in KEYPAIRS if k["name"] == m.group(1)]
        if not k:
            return 404, {"itemNotFound": {"code": 404, "message": "Keypair %s not found" % m.group(1)}}
        return 200, {"keypair": k[0]}
    if p in ("/os-availability-zone", "/os-availability-zone/detail"):
        return 200, {"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]}
    if p in ("/servers", "/servers/detail"):
        return 200, {"servers": []}
    if p.startswith("/servers/"):
        return 404, {"itemNotFound": {"code": 404, "message": "Instance could not be found."}}
    if p in ("/limits",):
        return 200, {"limits": {"absolute": {"maxTotalCores": 1000, "maxTotalInstances": 1000,
                                             "maxTotalRAMSize": 10 ** 7, "totalCoresUsed": 0,
                                             "totalInstancesUsed": 0, "totalRAMUsed": 0}, "rate": []}}
    return 404, {"itemNotFound": {"code": 404, "message": "not faked: " + p}}


def neutron(path, q):
    if path == "":
        return 200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
            {"rel": "self", "href": "http://%s:%d/v2.0/" % (HOST, NEUTRON)}]}]}
    if path == "/v2.0":
        return 200, {"resources": [{"name": c[:-1], "collection": c, "links": []} for c in COLLECTIONS]}
    if path == "/v2.0/extensions":
        return 200, {"extensions": [{"alias": a, "name": a, "description": a,
                                     "updated": "2020-01-01T00:00:00-00:00", "links": []}
                                    for a in EXTENSIONS]}
    m = re.match(r"^/v2\.0/extensions/([^/]+)$", path)
    if m:
        if m.group(1) in EXTENSIONS:
            return 200, {"extension": {"alias": m.group(1), "name": m.group(1), "description": "",
                                       "updated": "2020-01-01T00:00:00-00:00", "links": []}}
        return 404, {"NeutronError": {"type": "ExtensionNotFound", "message": "not found", "detail": ""}}
    m = re.match(r"^/v2\.0/([a-z-]+?)(?:\.json)?$", path)
    if m and m.group(1) in COLLECTIONS:
        key = m.group(1).replace("-", "_")
        return 200, {key: filtered(COLLECTIONS[m.group(1)], q)}
    m = re.match(r"^/v2\.0/([a-z-]+)/([^/]+?)(?:\.json)?$", path)
    if m and m.group(1) in COLLECTIONS:
        key = m.group(1).replace("-", "_")[:-1]
        hit = [it for it in COLLECTIONS[m.group(1)] if it["id"] == m.group(2)]
        if hit:
            return 200, {key: hit[0]}
        return 404, {"NeutronError": {"type": "NotFound", "message": "%s %s could not be found"
                                      % (key, m.group(2)), "detail": ""}}
    if re.match(r"^/v2\.0/quotas/", path):
        return 200, {"quota": {"network": -1, "subnet": -1, "port": -1, "router": -1,
                               "floatingip": -1, "security_group": -1, "security_group_rule": -1}}
    return 404, {"NeutronError": {"type": "NotFound", "message": "not faked: " + path, "detail": ""}}


def glance(path, q):
    versions = {"versions": [{"id": v, "status": "CURRENT" if v == "v2.16" else "SUPPORTED",
                              "links": [{"rel": "self", "href": "http://%s:%d/v2/" % (HOST, GLANCE)}]}
                             for v in ("v2.16", "v2.15", "v2.0")]}
    if path in ("", "/versions"):
        return (300 if path == "" else 200), versions
    if path == "/v2/images":
        return 200, {"images": filtered(IMAGES, q), "first": "/v2/images", "schema": "/v2/schemas/images"}
    m = re.match(r"^/v2/images/([^/]+)$", path)
    if m:
        hit = [i for i in IMAGES if i["id"] == m.group(1)]
        return (200, hit[0]) if hit else (404, {"code": 404, "title": "Not Found",
                                                 "message": "No image found with ID %s" % m.group(1)})
    m = re.match(r"^/v2/schemas/(image|images)$", path)
    if m:
        props = {k: {"type": ["null", "string", "integer", "boolean", "array", "object"]} for k in IMAGES[0]}
        if m.group(1) == "image":
            return 200, {"name": "image", "properties": props, "additionalProperties": {"type": "string"}, "links": []}
        return 200, {"name": "images", "properties": {"images": {"type": "array", "items": {
            "name": "image", "properties": props, "additionalProperties": {"type": "string"}}}},
            "links": []}
    return 404, {"code": 404, "title": "Not Found", "message": "not faked: " + path}


ROUTES = {NOVA: nova, NEUTRON: neutron, GLANCE: glance}


def handler(port):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, code, body):
            b = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(b)

        def do_GET(self):
            u = urlsplit(self.path)
            try:
                code, body = ROUTES[port](u.path.rstrip("/"), parse_qs(u.query))
            except Exception as e:  # never take the process down
                code, body = 500, {"error": repr(e)}
            print(port, self.command, self.path, "->", code, flush=True)
            self.answer(code, body)

        do_HEAD = do_GET

        def refuse(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            print(port, self.command, self.path, "-> 501 (read-only fake)", flush=True)
            self.answer(501, {"error": "fake_cloud.py is read-only: map this resource type to a "
                                       "stand-in with tests/testbed/heat-env/fake-env.yaml"})

        do_POST = do_PUT = do_DELETE = do_PATCH = refuse

        def log_message(self, *a):
            pass

    return H


def main():
    servers = []
    for port in ROUTES:
        s = ThreadingHTTPServer((HOST, port), handler(port))
        s.daemon_threads = True
        servers.append(s)
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("fake cloud: nova :%d neutron :%d glance :%d on %s" % (NOVA, NEUTRON, GLANCE, HOST), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
