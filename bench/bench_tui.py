"""TUI benchmark: first paint, keypress-to-screen delay under a pane flood,
memory of the TUI and the supervisor.

What a user runs: stacktui installed the way install.sh does it (a venv,
`pip install .`, which byte-compiles every module as it installs), not the
repo's development venv (an editable install, and PYTHONDONTWRITEBYTECODE=1
here leaves its site-packages without a single .pyc: every start then
compiles textual and rich again, 0.4 s of CPU). Without --venv a fresh one is
built in a temporary folder; the benchmark then runs inside it, so the TUI
and the supervisor both come from it. The JSON says how many .pyc it has.

First paint: `stacktui` in a pseudo-terminal (100x30) this process reads;
the clock starts just before the process is spawned and stops when the
screen's text arrives on the terminal, for the wizard (no stack installed)
and the dashboard (a stack installed, its supervisor running three panes).
CPU is the process's user+sys at that moment (10 ms ticks). Each is run
warm (the venv in the page cache, as when re-attaching) and cold (the venv's
files dropped from the page cache first, as this VM's kernel does to files
idle for ~30 s: a start after a pause). A first, unrecorded round warms the
cache and the supervisor.

Flood: real terminal (tmux), real supervisor daemon, real pane: a process
printing 200,000 lines as fast as it can. While it floods, `f`
(follow/pause) is sent again and again and the time until tmux's screen
shows the toggled state is the keypress-to-screen delay (polled every 2 ms,
so it includes tmux's own capture time: an upper bound).

    python bench/bench_tui.py [--venv DIR] [--runs 10] [--lines 200000] [--no-flood] [--json out.json]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import psutil
from tmuxterm import Term  # bench/, first on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
W, H = 100, 30
EXE = str(Path(sys.prefix) / "bin" / "stacktui")


def build_venv(where: Path) -> Path:
    """install.sh's way: a venv and a non-editable `pip install` of the repo."""
    venv = where / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", str(REPO)], check=True)
    return venv


def bytecode() -> dict:
    """.py and .pyc counts of the packages a start loads: compiled or not."""
    site = Path(__import__("textual").__file__).parent.parent
    out = {}
    for pkg in ("textual", "rich", "stacktui", "yaml", "psutil"):
        root = site / pkg
        out[pkg] = {"py": sum(1 for _ in root.rglob("*.py")),
                    "pyc": sum(1 for _ in root.rglob("__pycache__/*.pyc"))}
    return out


def spread(runs: list[float]) -> dict:
    xs = sorted(runs)
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else xs * 3
    return {"runs": [round(x, 3) for x in runs], "median": round(statistics.median(xs), 3),
            "min": round(xs[0], 3), "max": round(xs[-1], 3),
            "q1": round(q[0], 3), "q3": round(q[2], 3)}


def pty_paint(argv: list[str], env: dict, markers: dict[str, str], cwd: Path,
              timeout: float = 20) -> dict[str, tuple[float, float]]:
    """Run argv in a new pseudo-terminal; for each marker, the seconds from
    spawn until it was written to the terminal and the CPU (user+sys) the
    process had used by then."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", H, W, 0, 0))
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                         start_new_session=True)
    os.close(slave)
    proc = psutil.Process(p.pid)
    want = {k: v.encode() for k, v in markers.items()}
    seen: dict[str, tuple[float, float]] = {}
    buf = b""
    try:
        while want and time.monotonic() - t0 < timeout:
            if not select.select([master], [], [], 0.5)[0]:
                continue
            try:
                buf += os.read(master, 1 << 16)
            except OSError:
                break
            now = time.monotonic()
            for k, m in list(want.items()):
                if m in buf:
                    ct = proc.cpu_times()
                    seen[k] = (now - t0, ct.user + ct.system)
                    del want[k]
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        os.close(master)
    if want:
        raise RuntimeError(f"{list(want)} not on screen after {timeout} s:\n"
                           f"{buf[-3000:].decode(errors='replace')}")
    return seen


def tui_process(term: Term):
    """The python running stacktui inside the tmux pane's shell."""
    for p in psutil.Process(term.pane_pid()).children(recursive=True):
        try:
            if EXE in " ".join(p.cmdline()):
                return p
        except psutil.Error:
            pass
    return None


def installed_stack(root: Path, panes: int = 3):
    """A DEST that looks installed, its supervisor running a few quiet panes."""
    from stacktui.client import ensure_daemon
    from stacktui.paths import Layout

    layout = Layout(root / "d")
    layout.answers_file.parent.mkdir(parents=True, exist_ok=True)
    layout.answers_file.write_text("enabled_services: [key]\n")
    # A finished install (else `stacktui` offers to resume it instead).
    layout.state_file.write_text('{"version": 1, "steps": {"summary": {"status": "done"}}}')
    layout.panes_file.parent.mkdir(parents=True, exist_ok=True)
    script = "import time\nfor i in range(200): print('line', i)\ntime.sleep(3600)\n"
    layout.panes_file.write_text(json.dumps([{
        "name": f"bench-{i}", "argv": [sys.executable, "-c", script], "env": {}, "cwd": str(root),
        "group": "bench", "infra": False, "port": None, "ready": None, "stop_timeout": 5,
        "cgroup": None, "order": i} for i in range(panes)]))
    client = ensure_daemon(layout)
    client.reload()
    client.start([f"bench-{i}" for i in range(panes)])
    return layout, client


def evict(root: Path) -> None:
    """Drop root's files from the page cache. This VM's kernel (DAMON) pages
    out file pages nobody touched for about 30 s, so a start after a pause
    reads the venv from disk: the cold case. The interpreter's own standard
    library is left cached (other Python processes keep it warm here)."""
    for d, _, files in os.walk(root):
        for f in files:
            try:
                fd = os.open(os.path.join(d, f), os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def first_paint(runs: int, env: dict, cwd: Path, baseline: Path | None = None) -> dict:
    """Wizard and dashboard, warm and cold, interleaved so that a busy moment
    hits all four (and the baseline venv's runs, when there is one: a
    before/after under the same load)."""
    root = Path(tempfile.mkdtemp(prefix="stxb", dir="/tmp"))
    layout, client = installed_stack(root / "stack")
    cases = {"wizard": (["--dest", "NEW"], {"paint": "Welcome to stacktui"}),
             "dashboard": (["--dest", str(layout.dest)],
                           # The header's DEST, in the first frame.
                           {"paint": str(layout.dest), "panes": "bench-2"})}
    venvs = {"": Path(sys.prefix)}
    if baseline is not None:
        venvs["baseline_"] = baseline
    got: dict[str, list] = {}
    load = [os.getloadavg()[0]]
    try:
        for i in range(runs + 1):
            for name, (args, markers) in cases.items():
                for cold in (False, True):
                    for label, venv in venvs.items():
                        if cold:
                            evict(venv)
                        argv = [str(venv / "bin" / "stacktui"),
                                *[a.replace("NEW", str(root / f"new{i}{cold}")) for a in args]]
                        seen = pty_paint(argv, env, markers, cwd)
                        if not i:
                            continue    # the first round warms the page cache and the supervisor
                        key = label + name + ("_cold" if cold else "")
                        got.setdefault(key + "_s", []).append(seen["paint"][0])
                        got.setdefault(key + "_cpu_s", []).append(seen["paint"][1])
                        if "panes" in seen:
                            got.setdefault(key + "_panes_listed_s", []).append(seen["panes"][0])
        load.append(os.getloadavg()[0])
    finally:
        client.shutdown(stop_panes=True)
        shutil.rmtree(root, ignore_errors=True)
    out = {k: spread(v) for k, v in got.items()}
    out["load1_before_after"] = [round(x, 2) for x in load]
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
    term = Term("flood", W, H, prefix="stxbench")
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
        by_key: dict[str, list[float]] = {}
        state = "FOLLOW"
        done_at = None
        # f toggles; PageUp (keyboard scrollback) pauses on the page above; End follows again.
        cycle = ["f", "f", "PPage", "End"]
        while time.monotonic() - t_start < 120:
            key = cycle[len(delays) % len(cycle)]
            want = {"f": "PAUSED" if state == "FOLLOW" else "FOLLOW", "PPage": "PAUSED",
                    "End": "FOLLOW"}[key]
            t0 = time.monotonic()
            term.keys(key, pause=0)
            term.wait(want, timeout=10, every=0.002)
            t1 = time.monotonic()
            delays.append((t1 - t0, done_at is None))
            if done_at is None:
                by_key.setdefault(key, []).append(round((t1 - t0) * 1000, 1))
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
                "delays_by_key_ms": by_key,
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
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--venv", help="a venv with stacktui pip-installed (default: build one)")
    ap.add_argument("--no-flood", action="store_true", help="first paint only")
    ap.add_argument("--baseline-venv", help="another venv (e.g. an older stacktui) whose first "
                                            "paint runs interleaved with this one's")
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args(argv)
    if args.json:
        args.json = str(Path(args.json).resolve())
    if args.baseline_venv:
        args.baseline_venv = str(Path(args.baseline_venv).resolve())
    if args.venv is None:
        tmp = Path(tempfile.mkdtemp(prefix="stxbv", dir="/tmp"))
        print(f"building a venv as install.sh does in {tmp} ...", flush=True)
        try:
            venv = build_venv(tmp)
            rest = [a for a in (argv if argv is not None else sys.argv[1:])]
            if args.json:
                rest += ["--json", args.json]
            if args.baseline_venv:
                rest += ["--baseline-venv", args.baseline_venv]
            return subprocess.run([str(venv / "bin" / "python"), __file__, *rest,
                                   "--venv", str(venv)]).returncode
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if Path(sys.prefix).resolve() != Path(args.venv).resolve():
        os.execv(str(Path(args.venv) / "bin" / "python"), [str(Path(args.venv) / "bin" / "python"),
                                                           __file__, *sys.argv[1:]])
    import stacktui
    if Path(stacktui.__file__).resolve().is_relative_to(REPO):
        raise SystemExit(f"stacktui comes from the repo ({stacktui.__file__}), not an installed copy")
    base = Path(tempfile.mkdtemp(prefix="stxbx", dir="/tmp"))
    # The supervisor is `python -m stacktui.supervisor`, which puts the working
    # folder first on sys.path: away from the repo, it loads the installed copy.
    os.chdir(base)
    env = {"XDG_CONFIG_HOME": str(base / "cfg"), "XDG_STATE_HOME": str(base / "state"),
           "XDG_DATA_HOME": str(base / "data"), "HOME": os.environ.get("HOME", str(base)),
           "PATH": os.environ["PATH"], "TERM": "xterm-256color"}
    res: dict = {"machine": {"cpus": os.cpu_count()},
                 "venv": {"how": "python -m venv + pip install . (pip byte-compiles on install)",
                          "python": sys.version.split()[0], "files": bytecode()}}
    if args.baseline_venv:
        res["baseline_venv"] = {"path": args.baseline_venv}
    try:
        fp = first_paint(args.runs, env, base,
                         Path(args.baseline_venv) if args.baseline_venv else None)
        fl = None if args.no_flood else flood(args.lines, env)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    res["first_paint"] = fp
    keys = ("wizard", "wizard_cold", "dashboard", "dashboard_cold")
    for key in keys + tuple("baseline_" + k for k in keys if args.baseline_venv):
        w, c = fp[key + "_s"], fp[key + "_cpu_s"]
        print(f"first paint, {key + ':':25} median {w['median']:.3f} s (min {w['min']:.3f}, "
              f"q1-q3 {w['q1']:.3f}-{w['q3']:.3f}, max {w['max']:.3f}), CPU median "
              f"{c['median']:.2f} s over {args.runs} runs (target < 1 s)")
    print(f"dashboard panes listed: median {fp['dashboard_panes_listed_s']['median']:.3f} s")
    print(f"load average before/after: {fp['load1_before_after']} on {os.cpu_count()} cpus")
    if fl is not None:
        d = sorted(fl["delays_ms"])
        res.update({
            "flood": fl,
            "keypress_ms": {"median": statistics.median(d), "p90": d[int(len(d) * 0.9) - 1],
                            "max": d[-1], "n": len(d)},
            "memory_mb": {"peak_tui": fl["peak_rss_mb"]["tui"],
                          "peak_supervisor": fl["peak_rss_mb"]["supervisor"],
                          "peak_sum": round(sum(fl["peak_rss_mb"].values()), 1)},
        })
        print(f"flood: {args.lines} lines in {fl['flood_seconds']} s; keypress-to-screen "
              f"median {res['keypress_ms']['median']:.0f} ms, p90 {res['keypress_ms']['p90']:.0f} ms, "
              f"max {res['keypress_ms']['max']:.0f} ms over {len(d)} presses (target < 100 ms)")
        print(f"memory peak: TUI {res['memory_mb']['peak_tui']} MB + supervisor "
              f"{res['memory_mb']['peak_supervisor']} MB = {res['memory_mb']['peak_sum']} MB "
              f"(target < 150 MB)")
    res["machine"]["load1_at_end"] = round(os.getloadavg()[0], 2)
    print(f"load average at the end: {res['machine']['load1_at_end']} on {os.cpu_count()} cpus")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
