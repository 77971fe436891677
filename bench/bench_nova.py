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

SERVICES = ["mysql", "rabbit", "memcached", "key", "g-api", "placement-api", "n-api",
            "n-api-meta", "n-cond", "n-sch", "n-cpu"]
PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "memcached", "n-api",
          "n-api-meta", "q-svc"]


def free_ports(n: int) -> list[int]:
    out: set[int] = set()
    while len(out) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            out.add(s.getsockname()[1])
    return sorted(out)


def stacktui(*args, timeout=1800) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "stacktui.cli", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise SystemExit(f"stacktui {' '.join(map(str, args))} failed:\n{r.stdout}\n{r.stderr}")
    return r


def osc(dest: Path, env: dict, *args) -> str:
    r = subprocess.run([str(dest / "venv" / "bin" / "openstack"), *map(str, args)],
                       capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"openstack {' '.join(map(str, args))} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def step_seconds(dest: Path) -> dict:
    state = json.loads((dest / "stacktui-state.json").read_text())
    return {k: v.get("seconds") for k, v in state["steps"].items() if v.get("seconds") is not None}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "nova.json"))
    ap.add_argument("--root", help="work folder (default: a new one under /tmp)")
    args = ap.parse_args()
    root = Path(args.root or tempfile.mkdtemp(prefix="bench-nova-", dir="/tmp"))
    root.chmod(0o755)      # the host check wants every parent of DEST traversable
    dest = root / "dest"
    os.environ["XDG_STATE_HOME"] = str(root / "state")      # leave the user's last stack alone
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    ports = dict(zip(PORTED, free_ports(len(PORTED))))
    answers = root / "stacktui.yaml"
    answers.write_text(yaml.safe_dump({"dest": str(dest), "host_ip": "127.0.0.1",
                                       "database": "mysql", "virt_driver": "fake",
                                       "enabled_services": SERVICES, "ports": ports}))
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(dest / "clouds.yaml"),
           "OS_CLOUD": "devstack-admin"}
    result: dict = {"host": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "kernel": platform.release(),
                             "mem_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
                                             / 2**30, 1),
                             "load_before": os.getloadavg()[0]},
                    "services": SERVICES}
    try:
        t0 = time.monotonic()
        stacktui("install", "--answers", answers, "--yes")
        result["install_seconds"] = round(time.monotonic() - t0, 1)
        result["steps"] = step_seconds(dest)
        img = root / "image.raw"
        img.write_bytes(os.urandom(1 << 20))
        osc(dest, env, "image", "create", "--disk-format", "raw", "--container-format", "bare",
            "--file", img, "bench-image")
        t1 = time.monotonic()
        status = osc(dest, env, "server", "create", "--flavor", "m1.tiny", "--image", "bench-image",
                     "--nic", "none", "--wait", "bench-1", "-f", "value", "-c", "status").strip()
        result["boot_seconds"] = round(time.monotonic() - t1, 1)
        result["server_status"] = status
        result["warm_install_to_booted_server_seconds"] = round(time.monotonic() - t0, 1)
        time.sleep(10)     # let the services settle after their first requests
        panes = json.loads(stacktui("--dest", dest, "status", "--json").stdout)["panes"]
        rss = {p["name"]: round((p.get("rss") or 0) / 2**20) for p in panes}
        result["rss_mb"] = rss
        result["rss_total_mb"] = sum(rss.values())
        stacktui("--dest", dest, "unstack", "--all")
        t2 = time.monotonic()
        stacktui("--dest", dest, "up")
        result["up_seconds"] = round(time.monotonic() - t2, 1)
        result["load_after"] = os.getloadavg()[0]
    finally:
        subprocess.run([sys.executable, "-m", "stacktui.cli", "--dest", str(dest), "clean", "--yes"],
                       capture_output=True, timeout=300)
        shutil.rmtree(root, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
