"""Bench of the compute cloud: keystone, glance, placement, nova (fake
driver) on MariaDB, RabbitMQ and memcached.

Measures, on this machine:
  - warm install: `stacktui install` into an empty DEST with the uv cache
    and distro packages already there, then image upload and a server
    booted ACTIVE (the issue's "warm cache to a booted server");
  - RSS of every pane (its whole process tree) once the cloud is up and the
    server booted, and their total;
  - `stacktui up` from nothing running (after `unstack --all`), until every
    pane answers its readiness probe.

    python bench/bench_nova.py [--out bench/results/nova.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import stacktui  # noqa: E402
from tests.stackfix import (  # noqa: E402
    bench_root, bench_stack, cloud_env, host_facts, osc, pane_rss_mb,
    stack_answers, stack_ports, timed_install, write_result)

SERVICES = ["mysql", "rabbit", "memcached", "key", "g-api", "placement-api", "n-api",
            "n-api-meta", "n-cond", "n-sch", "n-cpu"]
PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "memcached", "n-api",
          "n-api-meta", "q-svc"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "nova.json"))
    ap.add_argument("--root", help="work folder (default: a new one under /tmp)")
    args = ap.parse_args()
    root = bench_root("bench-nova-", "/tmp", args.root)
    dest = root / "dest"
    answers = stack_answers(root, stack_ports(PORTED), database="mysql", virt_driver="fake",
                            enabled_services=SERVICES)
    stack = {"dest": dest, "root": root, "env": cloud_env(dest)}
    result: dict = {"host": host_facts(), "services": SERVICES}
    with bench_stack(root):
        t0 = timed_install(stack, answers, result)
        t1 = time.monotonic()
        status = osc(stack, "server", "create", "--flavor", "m1.tiny", "--image", "bench-image",
                     "--nic", "none", "--wait", "bench-1", "-f", "value", "-c", "status",
                     timeout=600).stdout.strip()
        result["boot_seconds"] = round(time.monotonic() - t1, 1)
        result["server_status"] = status
        result["warm_install_to_booted_server_seconds"] = round(time.monotonic() - t0, 1)
        time.sleep(10)     # let the services settle after their first requests
        result["rss_mb"] = pane_rss_mb(stack)
        result["rss_total_mb"] = sum(result["rss_mb"].values())
        stacktui("--dest", dest, "unstack", "--all", timeout=1800)
        t2 = time.monotonic()
        stacktui("--dest", dest, "up", timeout=1800)
        result["up_seconds"] = round(time.monotonic() - t2, 1)
        result["load_after"] = os.getloadavg()[0]
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
