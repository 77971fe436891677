"""What the memory monitor costs the supervisor.

Runs a Monitor in this process, sampling once a second as the supervisor
will, with 20 child processes as panes: first idle, then each growing its
memory. Reports CPU used by this process (the monitor thread is all it runs)
as a percentage of one core, and the time of one sample measured back to
back. Target: under 1 % of a core with 20 idle panes (issue 4).

    python bench/bench_monitor.py [--seconds 20] [--panes 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stacktui.monitor import Monitor  # noqa: E402

IDLE = "import time\nwhile True: time.sleep(3600)\n"
# Each grower adds 1 MB every 100 ms up to ~200 MB, touching the pages so
# they count as RSS, then holds; a shell child too, so trees have depth.
GROW = """
import subprocess, time
subprocess.Popen(["sleep", "3600"])
hog = []
while True:
    if len(hog) < 200:
        hog.append(bytearray(b"x" * (1 << 20)))
    time.sleep(0.1)
"""


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def spawn(n: int, code: str) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
            for _ in range(n)]


def stop(procs) -> None:
    for p in procs:
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
    for p in procs:
        p.wait()


def measure(procs, seconds: float, interval: float) -> dict:
    panes = {f"pane{i}": p.pid for i, p in enumerate(procs)}
    mon = Monitor(pane_pids=lambda: panes)
    # Back to back: the cost of one sample, without the sleeping.
    for _ in range(3):
        mon.sample()
    n, t0 = 30, time.perf_counter()
    c0 = cpu_seconds()
    for _ in range(n):
        mon.sample()
    per_sample_ms = (time.perf_counter() - t0) / n * 1000
    per_sample_cpu_ms = (cpu_seconds() - c0) / n * 1000
    # As the supervisor runs it: a thread sampling every `interval`.
    mon2 = Monitor(pane_pids=lambda: panes)
    c0, w0 = cpu_seconds(), time.monotonic()
    mon2.start(interval)
    time.sleep(seconds)
    mon2.stop()
    cpu, wall = cpu_seconds() - c0, time.monotonic() - w0
    st = mon2.status()
    tree = sum(p["procs"] for p in st["sample"]["panes"].values())
    rss = sum(p["rss"] for p in st["sample"]["panes"].values())
    return {"panes": len(panes), "processes_in_pane_trees": tree,
            "pane_rss_mb": round(rss / 2**20, 1),
            "processes_on_host": len(psutil.pids()),
            "sample_wall_ms": round(per_sample_ms, 2),
            "sample_cpu_ms": round(per_sample_cpu_ms, 2),
            "interval_s": interval, "seconds": round(wall, 1),
            "cpu_pct_of_core": round(100 * cpu / wall, 3),
            "level": st["level"], "errors": st["errors"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--panes", type=int, default=20)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "monitor.json"))
    a = ap.parse_args()
    res = {"machine": {"python": platform.python_version(), "kernel": platform.release(),
                       "cpus": os.cpu_count()}}
    for case, script, settle in (("idle", IDLE, 1.0), ("growing", GROW, 0.5)):
        procs = spawn(a.panes, script)
        try:
            time.sleep(settle)
            res[case] = measure(procs, a.seconds, a.interval)
        finally:
            stop(procs)
    res["target_idle_cpu_pct"] = 1.0
    res["idle_within_target"] = res["idle"]["cpu_pct_of_core"] < 1.0
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
