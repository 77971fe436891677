"""Preflight: the host checks before anything is installed (stack.sh's sanity step)."""

from __future__ import annotations

from stacktui.context import GlobalStep
from stacktui.errors import StackError


def inputs(answers):
    return answers.public_dict()


def run(ctx):
    from stacktui import checks
    results = checks.run_checks(ctx.answers)
    own = _own_pids(ctx)
    for c in results:
        # A port held by this stack's own service is not a clash: the start
        # step restarts that service on its new settings.
        if c.status == "fail" and c.name.startswith("port ") and any(f"(pid {p})" in c.measured
                                                                     for p in own):
            c.status, c.fix = "ok", "held by this stack's own service"
    for c in results:
        ctx.say(f"{c.status:4} {c.name}: {c.measured} (needs {c.needed})"
                + (f" -> {c.fix}" if c.status != "ok" and c.fix else ""))
    failed = [c for c in results if c.status == "fail"]
    if failed and not ctx.force:
        raise StackError("host checks failed: " + "; ".join(f"{c.name}: {c.measured}, {c.fix}"
                                                            for c in failed)
                         + " (run `stacktui check` for details; --force overrides)")
    for c in failed:
        ctx.say(f"--force: going on despite {c.name}")


def _own_pids(ctx) -> set[int]:
    if not ctx.layout.socket.exists():
        return set()
    import psutil
    from stacktui.client import Client
    try:
        panes = Client(ctx.layout).status()
    except Exception:  # noqa: BLE001 - no supervisor means no own processes
        return set()
    pids = set()
    for p in panes:
        if p.get("pid"):
            try:
                proc = psutil.Process(p["pid"])
                pids |= {proc.pid} | {c.pid for c in proc.children(recursive=True)}
            except psutil.Error:
                pass
    return pids


STEP = GlobalStep(run, inputs)
