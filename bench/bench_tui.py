"""TUI benchmark: first paint, keypress-to-screen delay under a pane flood,
memory of the TUI and the supervisor.

Real terminal (tmux), real supervisor daemon, real pane: a process printing
200,000 lines as fast as it can. While it floods, `f` (follow/pause) is sent
again and again and the time until tmux's screen shows the toggled state is
the keypress-to-screen delay (polled every 2 ms, so it includes tmux's own
capture time: an upper bound).

    python bench/bench_tui.py [--lines 200000] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

W, H = 100, 30
EXE = f"{sys.executable} -m stacktui.cli"


class Term:
    def __init__(self, name: str):
        self.sock = f"stxbench-{os.getpid()}-{name}"

    def tmux(self, *args, check=True) -> str:
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode:
            raise RuntimeError(f"tmux {args}: {r.stderr}")
        return r.stdout

    def start(self, cmd: str, env: dict) -> float:
        envs = " ".join(f"{k}={v}" for k, v in env.items())
        t0 = time.monotonic()
        self.tmux("new-session", "-d", "-x", str(W), "-y", str(H), "-s", "t",
                  f"env {envs} {cmd}; sleep 600")
        return t0

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t", check=False)

    def wait(self, text: str, timeout: float = 30, every: float = 0.002) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.screen():
                return time.monotonic()
            time.sleep(every)
        raise RuntimeError(f"{text!r} not on screen:\n{self.screen()}")

    def pane_pid(self) -> int:
        return int(self.tmux("list-panes", "-t", "t", "-F", "#{pane_pid}").split()[0])

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


def tui_process(term: Term) -> psutil.Process | None:
    """The python running stacktui inside the tmux pane's shell."""
    for p in psutil.Process(term.pane_pid()).children(recursive=True):
        try:
            if "stacktui.cli" in " ".join(p.cmdline()):
                return p
        except psutil.Error:
            pass
    return None


def first_paint(runs: int, env: dict) -> list[float]:
    out = []
    for i in range(runs):
        root = Path(tempfile.mkdtemp(prefix="stxb", dir="/tmp"))
        t = Term(f"fp{i}")
        try:
            t0 = t.start(f"{EXE} --dest {root / 'd'}", env)
            out.append(t.wait("Welcome to stacktui", timeout=20) - t0)
        finally:
            t.kill()
            shutil.rmtree(root, ignore_errors=True)
    return out


def flood(lines: int, env: dict, max_lines_note: int = 10_000) -> dict:
    from stacktui.client import daemon_pid, ensure_daemon
    from stacktui.paths import Layout

    root = Path(tempfile.mkdtemp(prefix="stxb", dir="/tmp"))
    layout = Layout(root / "d")
    layout.panes_file.parent.mkdir(parents=True, exist_ok=True)
    script = (f"import sys,time\nw=sys.stdout.write\nfor i in range({lines}): "
              f"w(f'line {{i}} ' + 'x' * 60 + '\\n')\nsys.stdout.flush()\n"
              f"print('FLOOD-DONE', flush=True)\ntime.sleep(3600)\n")
    layout.panes_file.write_text(json.dumps([{
        "name": "flood", "argv": [sys.executable, "-c", script], "env": {}, "cwd": str(root),
        "group": "bench", "infra": False, "port": None, "ready": None, "stop_timeout": 5,
        "cgroup": None, "order": 0}]))
    term = Term("flood")
    client = None
    try:
        client = ensure_daemon(layout)
        client.reload()
        term.start(f"{EXE} --dest {layout.dest} attach", env)
        term.wait("FOLLOW", timeout=20)
        tui = tui_process(term)
        sup = psutil.Process(daemon_pid(layout))
        peak = {"tui": 0, "supervisor": 0}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                for k, p in (("tui", tui), ("supervisor", sup)):
                    try:
                        peak[k] = max(peak[k], p.memory_info().rss)
                    except (psutil.Error, AttributeError):
                        pass
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t_start = time.monotonic()
        client.start(["flood"])
        delays = []
        state = "FOLLOW"
        done_at = None
        while time.monotonic() - t_start < 120:
            want = "PAUSED" if state == "FOLLOW" else "FOLLOW"
            t0 = time.monotonic()
            term.tmux("send-keys", "-t", "t", "f")
            t1 = term.wait(want, timeout=10)
            delays.append((t1 - t0, done_at is None))
            state = want
            if done_at is None and "FLOOD-DONE" in "\n".join(client.tail("flood", 3)):
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at > 1 and len(delays) >= 20:
                break
            time.sleep(0.1)
        stop.set()
        sampler.join()
        rss_after = {"tui": tui.memory_info().rss if tui else 0, "supervisor": sup.memory_info().rss}
        return {"lines": lines, "flood_seconds": round((done_at or time.monotonic()) - t_start, 2),
                "keypresses": len(delays),
                "delays_ms": [round(d * 1000, 1) for d, during in delays if during],
                "delays_after_ms": [round(d * 1000, 1) for d, during in delays if not during],
                "peak_rss_mb": {k: round(v / 2**20, 1) for k, v in peak.items()},
                "rss_after_mb": {k: round(v / 2**20, 1) for k, v in rss_after.items()}}
    finally:
        term.kill()
        if client is not None:
            client.shutdown(stop_panes=True)
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="stxbx", dir="/tmp"))
    env = {"XDG_CONFIG_HOME": base / "cfg", "XDG_STATE_HOME": base / "state",
           "PATH": os.environ["PATH"], "TERM": "xterm-256color"}
    try:
        fp = first_paint(args.runs, env)
        fl = flood(args.lines, env)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    d = sorted(fl["delays_ms"])
    res = {
        "machine": {"cpus": os.cpu_count(), "load1_at_end": round(os.getloadavg()[0], 2)},
        "first_paint_s": {"runs": [round(x, 3) for x in fp], "median": round(statistics.median(fp), 3),
                          "min": round(min(fp), 3)},
        "flood": fl,
        "keypress_ms": {"median": statistics.median(d), "p90": d[int(len(d) * 0.9) - 1],
                        "max": d[-1], "n": len(d)},
        "memory_mb": {"peak_tui": fl["peak_rss_mb"]["tui"],
                      "peak_supervisor": fl["peak_rss_mb"]["supervisor"],
                      "peak_sum": round(sum(fl["peak_rss_mb"].values()), 1)},
    }
    print(f"first paint: median {res['first_paint_s']['median']:.3f} s, min "
          f"{res['first_paint_s']['min']:.3f} s over {args.runs} runs (target < 1 s)")
    print(f"flood: {args.lines} lines in {fl['flood_seconds']} s; keypress-to-screen "
          f"median {res['keypress_ms']['median']:.0f} ms, p90 {res['keypress_ms']['p90']:.0f} ms, "
          f"max {res['keypress_ms']['max']:.0f} ms over {len(d)} presses (target < 100 ms)")
    print(f"memory peak: TUI {res['memory_mb']['peak_tui']} MB + supervisor "
          f"{res['memory_mb']['peak_supervisor']} MB = {res['memory_mb']['peak_sum']} MB "
          f"(target < 150 MB)")
    print(f"load average at the end: {res['machine']['load1_at_end']} on {res['machine']['cpus']} cpus")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
