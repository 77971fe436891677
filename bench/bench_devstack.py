"""Bench of DevStack's default cloud (`profile: devstack`, every default
service): keystone, glance, placement, nova on libvirt (qemu here),
neutron ML2/OVN (userspace datapath) with the OVN agent's metadata, cinder
(the file-backed fake where there is no device-mapper), horizon, n-novnc,
etcd3, dstat and tempest, on MariaDB and RabbitMQ.

Measures, on this machine:
  - warm install: `stacktui install` into an empty DEST with the uv cache,
    the guest image cache and distro packages already there (target: under
    2 minutes);
  - boot to SSH: the default image (`stacktui-guest`) booted on `private`
    with a keypair, a floating IP, and the host's first successful `ssh`
    through it, from `server create`;
  - RSS of every pane (its whole process tree) with the cloud up and the
    guest running, and their total (target: under 4 GB);
  - `stacktui verify --tempest smoke`: passed, skipped, failed, seconds.

    python bench/bench_devstack.py [--out bench/results/devstack.json] [--no-tempest]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import stacktui  # noqa: E402
from tests.stackfix import (  # noqa: E402
    DEVSTACK_PORTED, bench_root, bench_stack, cloud_env, host_facts, osc, pane_rss_mb, panes,
    stack_answers, stack_ports, timed_install, unrouted_range, wait_for, write_result)

TARGET_SECONDS, TARGET_MB = 120, 4096


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "devstack.json"))
    ap.add_argument("--root", help="work folder (default: a new one under /var/tmp)")
    ap.add_argument("--no-tempest", action="store_true")
    args = ap.parse_args()
    root = bench_root("bench-devstack-", "/var/tmp", args.root)
    dest = root / "dest"
    floating = unrouted_range("172.29.180.0/24")
    answers = stack_answers(root, stack_ports(DEVSTACK_PORTED), database="mysql",
                            profile="devstack", fixed_range="10.94.0.0/22",
                            floating_range=floating)
    stack = {"dest": dest, "root": root, "env": cloud_env(dest)}
    result: dict = {"host": host_facts(), "loadavg_before": [round(x, 2) for x in os.getloadavg()],
                    "profile": "devstack", "targets": {"install_seconds": TARGET_SECONDS,
                                                       "rss_total_mb": TARGET_MB}}
    with bench_stack(root):
        timed_install(stack, answers, result)
        result["virt"] = next((line.strip() for line in (dest / "logs" / "stack.log").read_text(
            errors="replace").splitlines() if "nova-compute driver:" in line), "")
        result.update(boot_to_ssh(stack, root))
        time.sleep(10)     # let the services settle after their first requests
        result["rss_mb"] = pane_rss_mb(stack)
        result["rss_total_mb"] = sum(result["rss_mb"].values())
        # RSS counts a page shared by forked processes (uwsgi's master and
        # worker, c-vol's parent and child) once per process; PSS splits it.
        result["pss_total_mb"] = pane_pss_total_mb(stack)
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
        result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]      # 1, 5, 15 min
        result["met"] = {"install_under_2_min": result["install_seconds"] < TARGET_SECONDS,
                         "rss_under_4_gb": result["rss_total_mb"] < TARGET_MB}
    write_result(result, args.out)
    return 0


def pane_pss_total_mb(stack) -> int:
    """What the panes' process trees really hold: each shared page counted
    once, split between the processes that map it (Linux's PSS)."""
    import psutil
    total = 0
    for p in panes(stack).values():
        try:
            leader = psutil.Process(p["pid"])
            procs = [leader, *leader.children(recursive=True)]
        except (psutil.Error, TypeError, KeyError):
            continue
        for q in procs:
            try:
                total += q.memory_full_info().pss
            except psutil.Error:
                pass
    return round(total / 2**20)


def boot_to_ssh(stack, root: Path) -> dict:
    """The default image on `private` with a keypair and a floating IP, as a
    DevStack user boots cirros; seconds from `server create` to ACTIVE and to
    the first `ssh` that runs a command."""
    key = root / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    osc(stack, "keypair", "create", "--public-key", f"{key}.pub", "bench-key")
    sg = json.loads(osc(stack, "security", "group", "list", "--project", "admin",
                        "-f", "json").stdout)[0]["ID"]
    osc(stack, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", sg)
    user = json.loads(osc(stack, "image", "show", "stacktui-guest", "-f", "json").stdout)[
        "properties"]["os_admin_user"]
    t0 = time.monotonic()
    status = osc(stack, "server", "create", "--flavor", "m1.tiny", "--image", "stacktui-guest",
                 "--key-name", "bench-key", "--network", "private", "--wait", "bench-1",
                 "-f", "value", "-c", "status", timeout=600).stdout.strip()
    active = time.monotonic() - t0
    fip = osc(stack, "floating", "ip", "create", "public", "-f", "value", "-c",
              "floating_ip_address").stdout.strip()
    osc(stack, "server", "add", "floating", "ip", "bench-1", fip)
    ssh = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o",
           "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes",
           "-o", "LogLevel=ERROR", f"{user}@{fip}", "hostname"]
    wait_for("SSH into the default image", lambda: subprocess.run(
        ssh, capture_output=True, text=True, timeout=60).stdout.strip() == "bench-1", 600, every=1)
    return {"server_status": status, "boot_seconds": round(active, 1),
            "boot_to_ssh_seconds": round(time.monotonic() - t0, 1)}


if __name__ == "__main__":
    sys.exit(main())
