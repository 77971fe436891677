"""Bench of `stacktui up` after the supervisor is killed with -9, on
DevStack's default cloud (`profile: devstack`, nova's fake driver unless
--real-guests).

A kill -9 of the supervisor takes every pane with it (they lose their PTY);
`up` starts a new supervisor, which stops what is left of the old panes,
then starts every pane and waits until the cloud serves (nova-compute's
hypervisor listed, cinder-volume up, OVN's chassis registered). Each round
kills the supervisor, waits 3 s, runs `up` and times it; then a server is
booted to prove `up` meant ready.

    python bench/bench_up.py [--rounds 3] [--root DIR --keep] [--out bench/results/up.json]

--keep leaves the stack installed in --root (for a before/after on one stack:
run with the old code, then again with the new one and the same --root).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import stacktui  # noqa: E402
from tests.stackfix import (  # noqa: E402
    DEVSTACK_PORTED, bench_root, cloud_env, host_facts, osc, stack_answers, stack_ports,
    timed_install, write_result)


def supervisor_pid(dest: Path) -> int:
    return int((dest / "run" / "supervisor.pid").read_text().strip())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "up.json"))
    ap.add_argument("--root", help="work folder (default: a new one under /var/tmp); "
                                   "a stack already installed there is reused")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="leave the stack installed")
    ap.add_argument("--label", default="", help="what this run measures (e.g. the commit)")
    ap.add_argument("--real-guests", action="store_true")
    args = ap.parse_args()
    root = bench_root("bench-up-", "/var/tmp", args.root)
    dest = root / "dest"
    stack = {"dest": dest, "root": root, "env": cloud_env(dest)}
    result: dict = {"host": host_facts(), "label": args.label, "profile": "devstack",
                    "virt_driver": "auto" if args.real_guests else "fake"}
    try:
        if not (dest / "stacktui.yaml").exists() and not (dest / "etc").exists():
            answers = stack_answers(root, stack_ports(DEVSTACK_PORTED), database="mysql",
                                    profile="devstack", fixed_range="10.95.0.0/22",
                                    floating_range="172.29.95.0/24",
                                    **({} if args.real_guests else {"virt_driver": "fake"}))
            timed_install(stack, answers, result, timeout=2400)
        else:
            stacktui("--dest", dest, "up", timeout=900)
        rounds = []
        for _ in range(args.rounds):
            os.kill(supervisor_pid(dest), signal.SIGKILL)
            time.sleep(3)
            t0 = time.monotonic()
            r = stacktui("--dest", dest, "up", timeout=900)
            seconds = round(time.monotonic() - t0, 1)
            assert "is up" in r.stdout, r.stdout + r.stderr
            t1 = time.monotonic()
            osc(stack, "server", "create", "--flavor", "m1.tiny", "--image", "bench-image",
                "--network", "private", "--wait", "bench-up", timeout=600)
            boot = round(time.monotonic() - t1, 1)
            osc(stack, "server", "delete", "--wait", "bench-up", timeout=600)
            rounds.append({"up_seconds": seconds, "server_active_after_s": boot,
                           "load": round(os.getloadavg()[0], 1)})
            print(json.dumps(rounds[-1]), flush=True)
        result["rounds"] = rounds
        result["up_median_s"] = statistics.median(r["up_seconds"] for r in rounds)
        write_result(result, args.out)
    finally:
        if not args.keep:
            for cmd in (("unstack", "--all"), ("clean", "--yes")):
                stacktui("--dest", dest, *cmd, check=False, timeout=300)
            import shutil
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
