"""nova's stand-in for the network API when neutron does not run.

Without neutron (q-svc), nova's API still asks the network API for every
server's ports and security groups (nova/network/security_group_api.py) and
answers 500 when there is none in the catalog. This server stands in on
q-svc's port: every list is empty, every item is missing, so servers booted
with `--nic none` can be listed and shown. Run as
``python -m stacktui.shims.no_network_api HOST PORT`` (phases/nova.py's pane).
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOT_FOUND = {"NeutronError": {"type": "NotFound", "message": "no networks here", "detail": ""}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, code: int, body: dict | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith(".json"):
            path = path[:-5]
        parts = [p for p in path.split("/") if p]
        if not parts:
            self._send(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": []}]})
        elif parts == ["v2.0"]:
            self._send(200, {"resources": []})
        elif len(parts) == 2 and parts[0] == "v2.0":
            self._send(200, {parts[1].replace("-", "_"): []})
        else:
            self._send(404, NOT_FOUND)

    def do_DELETE(self):  # noqa: N802
        self._send(404, NOT_FOUND)

    do_POST = do_PUT = do_DELETE

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.address_string(), fmt % args))
        sys.stdout.flush()


def serve(host: str, port: int) -> None:
    server = ThreadingHTTPServer((host.strip("[]"), port), Handler)
    print(f"empty network API on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m stacktui.shims.no_network_api HOST PORT")
    serve(sys.argv[1], int(sys.argv[2]))
