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
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "n-api", "n-api-meta", "c-api",
          "q-svc", "ovn-northd", "horizon"]
TARGET_SECONDS, TARGET_MB = 300, 4096


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_ports(n: int) -> list[int]:
    out: set[int] = set()
    while len(out) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            out.add(s.getsockname()[1])
    return sorted(out)


def ports() -> dict:
    # OVN's southbound database listens on the northbound port + 1.
    while True:
        p = dict(zip(PORTED, free_ports(len(PORTED))))
        if p["ovn-northd"] + 1 not in p.values() and _port_free(p["ovn-northd"] + 1):
            return p


def stacktui(*args, timeout=1800, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "stacktui.cli", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise SystemExit(f"stacktui {' '.join(map(str, args))} failed:\n{r.stdout[-5000:]}\n"
                         f"{r.stderr[-5000:]}")
    return r


def osc(dest: Path, env: dict, *args) -> str:
    r = subprocess.run([str(dest / "venv" / "bin" / "openstack"), *map(str, args)],
                       capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"openstack {' '.join(map(str, args))} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def rss(dest: Path) -> dict:
    panes = json.loads(stacktui("--dest", dest, "status", "--json").stdout)["panes"]
    return {p["name"]: round((p.get("rss") or 0) / 2**20) for p in panes}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "devstack.json"))
    ap.add_argument("--root", help="work folder (default: a new one under /var/tmp)")
    ap.add_argument("--no-tempest", action="store_true")
    args = ap.parse_args()
    root = Path(args.root or tempfile.mkdtemp(prefix="bench-devstack-", dir="/var/tmp"))
    root.chmod(0o755)      # the host check wants every parent of DEST traversable
    dest = root / "dest"
    os.environ["XDG_STATE_HOME"] = str(root / "state")      # leave the user's last stack alone
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    answers = root / "stacktui.yaml"
    answers.write_text(yaml.safe_dump({"dest": str(dest), "host_ip": "127.0.0.1",
                                       "database": "mysql", "virt_driver": "fake",
                                       "profile": "devstack", "ports": ports(),
                                       "fixed_range": "10.94.0.0/22",
                                       "floating_range": "172.29.94.0/24"}))
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(dest / "clouds.yaml"),
           "OS_CLOUD": "devstack-admin"}
    result: dict = {"host": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "kernel": platform.release(),
                             "mem_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
                                             / 2**30, 1),
                             "load_before": os.getloadavg()[0]},
                    "profile": "devstack", "targets": {"install_seconds": TARGET_SECONDS,
                                                       "rss_total_mb": TARGET_MB}}
    try:
        t0 = time.monotonic()
        stacktui("install", "--answers", answers, "--yes")
        result["install_seconds"] = round(time.monotonic() - t0, 1)
        state = json.loads((dest / "stacktui-state.json").read_text())
        result["steps"] = {k: v.get("seconds") for k, v in state["steps"].items()
                           if v.get("seconds") is not None}
        img = root / "image.raw"
        img.write_bytes(os.urandom(1 << 20))
        osc(dest, env, "image", "create", "--disk-format", "raw", "--container-format", "bare",
            "--file", img, "bench-image")
        port = osc(dest, env, "port", "create", "--network", "private", "bench-port",
                   "-f", "value", "-c", "id").strip()
        t1 = time.monotonic()
        result["server_status"] = osc(dest, env, "server", "create", "--flavor", "m1.tiny",
                                      "--image", "bench-image", "--nic", f"port-id={port}",
                                      "--wait", "bench-1", "-f", "value", "-c", "status").strip()
        result["boot_seconds"] = round(time.monotonic() - t1, 1)
        time.sleep(10)     # let the services settle after their first requests
        result["rss_mb"] = rss(dest)
        result["rss_total_mb"] = sum(result["rss_mb"].values())
        if not args.no_tempest:
            r = stacktui("--dest", dest, "verify", "--tempest", "smoke", check=False, timeout=3600)
            t = json.loads((dest / "data" / "tempest" / "last-result.json").read_text())
            result["tempest_smoke"] = {k: t[k] for k in ("ran", "passed", "skipped", "failed",
                                                         "seconds", "failures", "explained",
                                                         "unexplained_skips")}
            result["tempest_smoke"]["exit_code"] = r.returncode
            result["rss_after_tempest_mb"] = rss(dest)
            result["rss_after_tempest_total_mb"] = sum(result["rss_after_tempest_mb"].values())
        result["load_after"] = os.getloadavg()[0]
        result["met"] = {"install_under_5_min": result["install_seconds"] < TARGET_SECONDS,
                         "rss_under_4_gb": result["rss_total_mb"] < TARGET_MB}
    finally:
        for cmd in (("unstack", "--all"), ("clean", "--yes")):
            subprocess.run([sys.executable, "-m", "stacktui.cli", "--dest", str(dest), *cmd],
                           capture_output=True, timeout=300)
        shutil.rmtree(root, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
