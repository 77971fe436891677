"""Bench of DevStack's default cloud (`profile: devstack`): keystone, glance,
placement, nova (fake driver), neutron ML2/OVN (userspace datapath), cinder
(the gate's fake driver), horizon and tempest, on MariaDB and RabbitMQ.

Measures, on this machine:
  - warm install: `stacktui install` into an empty DEST with the uv cache
    and distro packages already there (targets: under 5 minutes);
  - a server booted ACTIVE with a port on `private`;
  - RSS of every pane (its whole process tree) with the cloud up and the
    server running, and their total (target: under 4 GB);
  - `stacktui verify --tempest smoke`: passed, skipped, failed, seconds.

    python bench/bench_devstack.py [--out bench/results/devstack.json] [--no-tempest]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import stacktui  # noqa: E402
from tests.stackfix import (  # noqa: E402
    bench_root, bench_stack, cloud_env, host_facts, osc, pane_rss_mb,
    stack_answers, stack_ports, timed_install, write_result)

PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "n-api", "n-api-meta", "c-api",
          "q-svc", "ovn-northd", "horizon"]
TARGET_SECONDS, TARGET_MB = 300, 4096


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "devstack.json"))
    ap.add_argument("--root", help="work folder (default: a new one under /var/tmp)")
    ap.add_argument("--no-tempest", action="store_true")
    args = ap.parse_args()
    root = bench_root("bench-devstack-", "/var/tmp", args.root)
    dest = root / "dest"
    answers = stack_answers(root, stack_ports(PORTED), database="mysql", virt_driver="fake",
                            profile="devstack", fixed_range="10.94.0.0/22",
                            floating_range="172.29.94.0/24")
    stack = {"dest": dest, "root": root, "env": cloud_env(dest)}
    result: dict = {"host": host_facts(),
                    "profile": "devstack", "targets": {"install_seconds": TARGET_SECONDS,
                                                       "rss_total_mb": TARGET_MB}}
    with bench_stack(root):
        timed_install(stack, answers, result)
        port = osc(stack, "port", "create", "--network", "private", "bench-port",
                   "-f", "value", "-c", "id", timeout=600).stdout.strip()
        t1 = time.monotonic()
        result["server_status"] = osc(stack, "server", "create", "--flavor", "m1.tiny",
                                      "--image", "bench-image", "--nic", f"port-id={port}",
                                      "--wait", "bench-1", "-f", "value", "-c", "status",
                                      timeout=600).stdout.strip()
        result["boot_seconds"] = round(time.monotonic() - t1, 1)
        time.sleep(10)     # let the services settle after their first requests
        result["rss_mb"] = pane_rss_mb(stack)
        result["rss_total_mb"] = sum(result["rss_mb"].values())
        if not args.no_tempest:
            r = stacktui("--dest", dest, "verify", "--tempest", "smoke", check=False, timeout=3600)
            t = json.loads((dest / "data" / "tempest" / "last-result.json").read_text())
            result["tempest_smoke"] = {k: t[k] for k in ("ran", "passed", "skipped", "failed",
                                                         "seconds", "failures", "explained",
                                                         "unexplained_skips")}
            result["tempest_smoke"]["exit_code"] = r.returncode
            result["rss_after_tempest_mb"] = pane_rss_mb(stack)
            result["rss_after_tempest_total_mb"] = sum(result["rss_after_tempest_mb"].values())
        result["load_after"] = os.getloadavg()[0]
        result["met"] = {"install_under_5_min": result["install_seconds"] < TARGET_SECONDS,
                         "rss_under_4_gb": result["rss_total_mb"] < TARGET_MB}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
