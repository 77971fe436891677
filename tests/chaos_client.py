"""The chaos test's client load, run by the stack's own venv python (it
needs openstacksdk): until the stop file appears, create and delete an
image, a volume and a server in turn, as a user of the cloud would while it
misbehaves. One JSON line per operation on stdout: kind, ok, seconds, error.

Usage: python chaos_client.py STOP_FILE IMAGE_ID FLAVOR_ID NETWORK_ID
(OS_CLIENT_CONFIG_FILE and OS_CLOUD in the environment).
"""

from __future__ import annotations

import json
import os
import sys
import time

import openstack

PREFIX = "chaos-churn-"
# Every call bounded: a stopped service accepts connections (the kernel's
# backlog) and never answers, and the loop must go on to the next one.
API_TIMEOUT = 30
WAIT = 90


def image(conn, n: int) -> None:
    img = conn.image.create_image(name=f"{PREFIX}img-{n}", data=os.urandom(64 << 10),
                                  disk_format="raw", container_format="bare",
                                  allow_duplicates=True)
    img = conn.image.wait_for_status(img, "active", wait=WAIT)
    conn.image.delete_image(img)


def volume(conn, n: int) -> None:
    vol = conn.block_storage.create_volume(size=1, name=f"{PREFIX}vol-{n}")
    vol = conn.block_storage.wait_for_status(vol, "available", failures=["error"], wait=WAIT)
    conn.block_storage.delete_volume(vol)
    conn.block_storage.wait_for_delete(vol, wait=WAIT)


def server(conn, n: int, image_id: str, flavor_id: str, network_id: str) -> None:
    srv = conn.compute.create_server(name=f"{PREFIX}srv-{n}", image_id=image_id,
                                     flavor_id=flavor_id, networks=[{"uuid": network_id}])
    srv = conn.compute.wait_for_server(srv, wait=WAIT)
    conn.compute.delete_server(srv)
    conn.compute.wait_for_delete(srv, wait=WAIT)


def main() -> int:
    stop, image_id, flavor_id, network_id = sys.argv[1:5]
    conn = None
    n = 0
    while not os.path.exists(stop):
        n += 1
        for kind in ("image", "volume", "server"):
            if os.path.exists(stop):
                break
            t0 = time.monotonic()
            err = None
            try:
                if conn is None:
                    conn = openstack.connect(cloud=os.environ["OS_CLOUD"], api_timeout=API_TIMEOUT)
                if kind == "image":
                    image(conn, n)
                elif kind == "volume":
                    volume(conn, n)
                else:
                    server(conn, n, image_id, flavor_id, network_id)
            except Exception as e:      # every failure is a data point, not the end
                err = f"{type(e).__name__}: {e}"[:300]
                conn = None             # a token or session from before a restart
            print(json.dumps({"kind": kind, "ok": err is None, "at": time.time(),
                              "seconds": round(time.monotonic() - t0, 2), "error": err}),
                  flush=True)
            if err:
                time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
