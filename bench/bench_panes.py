"""Output flood through one pane: what the supervisor pays for a chatty service.

A pane prints 200,000 lines as fast as it can (a service in debug mode, a
db sync dumping SQL). We measure, from outside the daemon: wall time until
the last line is in the ring, the daemon's CPU time and peak RSS during the
flood, and `status` latency while it runs (the TUI polls status; it must
stay responsive). Runs twice: nobody attached, and one follower (the TUI)
reading everything. Writes bench/results/panes.json.

    python bench/bench_panes.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stacktui.client import Client, ensure_daemon  # noqa: E402
from stacktui.paths import Layout  # noqa: E402

FLOOD = """
import sys, time
n = int(sys.argv[1])
w = sys.stdout.write
for i in range(n):
    w("line %d \\x1b[32mok\\x1b[0m some typical log text of a service, padded to look real\\n" % i)
sys.stdout.flush()
time.sleep(600)
"""


def run_once(n: int, follower: bool) -> dict:
    dest = Path(tempfile.mkdtemp(prefix="bp", dir="/tmp"))
    layout = Layout(dest)
    script = dest / "flood.py"
    script.write_text(FLOOD)
    layout.panes_file.parent.mkdir(parents=True, exist_ok=True)
    layout.secrets_file.write_text(json.dumps({"passwords": {"admin": "Zq8vLm3TtR5nPw2KxY7cJ4hB"}}))
    layout.panes_file.write_text(json.dumps([{
        "name": "flood", "argv": [sys.executable, "-u", str(script), str(n)],
        "env": {}, "cwd": str(dest), "group": "flood", "infra": False, "port": None,
        "ready": None, "stop_timeout": 5, "cgroup": None, "order": 0}]))
    c = ensure_daemon(layout)
    try:
        daemon = psutil.Process(c.call("ping")["pid"])
        time.sleep(1.0)                       # let the daemon settle (imports, monitor start)
        idle_rss = daemon.memory_info().rss
        cpu0 = daemon.cpu_times()
        peak = [idle_rss]
        stop = threading.Event()

        def sample_rss():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], daemon.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.01)

        got = [0]
        fol = None
        if follower:
            fol = c.follow("flood", lines=0)

            def consume():
                for batch in fol.batches():
                    got[0] += len(batch)

            ft = threading.Thread(target=consume, daemon=True)
            ft.start()
        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        last = f"line {n - 1} "
        lat: list[float] = []
        t0 = time.monotonic()
        c.start("flood")
        while True:
            s0 = time.perf_counter()
            c.status()
            lat.append(time.perf_counter() - s0)
            tail = c.tail("flood", 1)
            if tail and tail[-1].startswith(last):
                break
            if time.monotonic() - t0 > 300:
                raise SystemExit("flood did not finish in 300 s")
            time.sleep(0.02)
        wall = time.monotonic() - t0
        cpu1 = daemon.cpu_times()
        stop.set()
        sampler.join()
        if fol is not None:
            deadline = time.monotonic() + 10
            while got[0] < n and time.monotonic() < deadline:
                time.sleep(0.02)
            fol.close()
        # flood.log is rotated at 10 MB: count the rotated files too.
        log_lines = sum(sum(1 for _ in open(f, "rb")) for f in layout.logs.glob("flood.log*"))
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        lat_ms = sorted(x * 1000 for x in lat)
        return {
            "follower_attached": follower,
            "lines": n,
            "wall_s": round(wall, 2),
            "lines_per_s": round(n / wall),
            "daemon_cpu_s": round(cpu, 2),
            "daemon_cpu_pct_of_one_core": round(100 * cpu / wall, 1),
            "daemon_rss_idle_mb": round(idle_rss / 2**20, 1),
            "daemon_rss_peak_mb": round(peak[0] / 2**20, 1),
            "status_calls": len(lat_ms),
            "status_ms_p50": round(statistics.median(lat_ms), 2),
            "status_ms_p95": round(lat_ms[int(0.95 * (len(lat_ms) - 1))], 2),
            "status_ms_max": round(lat_ms[-1], 2),
            "follower_lines": got[0] if follower else None,
            "log_lines_all_files": log_lines,
        }
    finally:
        try:
            Client(layout).shutdown(stop_panes=True)
        finally:
            if c._proc is not None:
                c._proc.wait(10)
            subprocess.run(["rm", "-rf", str(dest)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "panes.json"))
    args = ap.parse_args()
    runs = [run_once(args.lines, follower=False), run_once(args.lines, follower=True)]
    result = {
        "what": "one pane printing N lines as fast as it can, measured from outside the supervisor",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "kernel": platform.release()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": runs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
