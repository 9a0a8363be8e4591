#!/usr/bin/env python3
"""The Neutron part of fake_cloud.py alone, on 127.0.0.1:9696.

The test bed runs the real Glance and the real Nova API now; Heat still needs something
answering on the network endpoint of the catalog (``GET /v2.0/extensions``, networks,
subnets, ... read-only, see fake_cloud.py).
"""
import sys
import threading
from http.server import ThreadingHTTPServer

import fake_cloud


def main():
    server = ThreadingHTTPServer((fake_cloud.HOST, fake_cloud.NEUTRON),
                                 fake_cloud.handler(fake_cloud.NEUTRON))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("fake neutron :%d on %s" % (fake_cloud.NEUTRON, fake_cloud.HOST), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
