"""Install benchmark (issue 2): the minimal cloud installed for real, four ways
in one run on this machine:

  cold      empty uv cache, fresh DEST
  warm      warm uv cache, fresh DEST
  noop      the same command again on the warm DEST
  devstack  fresh DEST, the venv built DevStack's way (sequential plain pip
            per project, warm pip cache), everything else the same engine

Writes bench/results/install.json. Run: python bench/bench_install.py
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.conftest import NASTY, free_ports, stack_processes  # noqa: E402


def stacktui(*args, env=None):
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "stacktui.cli", *map(str, args)], capture_output=True,
                       text=True, env=env, stdin=subprocess.DEVNULL)
    if r.returncode:
        raise SystemExit(f"stacktui {args} failed:\n{r.stdout}\n{r.stderr}")
    return time.monotonic() - t, r.stdout


def venv_seconds(dest: Path) -> float:
    return json.loads((dest / "stacktui-state.json").read_text())["steps"]["install"]["seconds"]


def one(root: Path, name: str, env: dict) -> dict:
    dest = root / name
    answers = root / f"{name}.yaml"
    ports = free_ports(3)
    answers.write_text(yaml.safe_dump({
        "dest": str(dest), "host_ip": "127.0.0.1", "passwords": NASTY,
        "ports": {"key": ports[0], "g-api": ports[1], "placement-api": ports[2]}}, allow_unicode=True))
    secs, _ = stacktui("install", "--answers", answers, "--yes", env=env)
    out = {"seconds": round(secs, 2), "venv_seconds": round(venv_seconds(dest), 2)}
    if name == "warm":
        noop, _ = stacktui("install", "--answers", answers, "--yes", env=env)
        out["noop_seconds"] = round(noop, 2)
        st = json.loads(stacktui("--dest", dest, "status", "--json", env=env)[1])
        out["rss_mb"] = {p["name"]: round(p["rss"] / 2**20) for p in st["panes"]}
    stacktui("--dest", dest, "clean", "--yes", env=env)
    assert not stack_processes(dest)
    return out


def main() -> None:
    load0 = list(os.getloadavg())
    root = Path(tempfile.mkdtemp(prefix="stacktui-bench-"))
    base = {**os.environ, "XDG_CONFIG_HOME": str(root / "config"), "XDG_STATE_HOME": str(root / "state")}
    try:
        cold_cache = root / "uv-cache"
        res = {
            "cold": one(root, "cold", {**base, "UV_CACHE_DIR": str(cold_cache)}),
            "warm": one(root, "warm", base),
            "devstack": one(root, "devstack", {**base, "STACKTUI_BENCH_DEVSTACK_WAY": "1"}),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    res["speedup_vs_devstack_way"] = round(res["devstack"]["seconds"] / res["warm"]["seconds"], 2)
    res["venv_speedup_vs_devstack_way"] = round(
        res["devstack"]["venv_seconds"] / max(res["warm"]["venv_seconds"], 0.01), 1)
    res["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                      "when": time.strftime("%Y-%m-%d %H:%M"),
                      # Other work on the machine slows every figure: say how much there was.
                      "load_average_at_start": load0, "load_average_at_end": list(os.getloadavg())}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "install.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
