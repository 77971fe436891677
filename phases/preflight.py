"""Preflight: the host checks before anything is installed (stack.sh's sanity step)."""

from __future__ import annotations

from stacktui.errors import StackError


def inputs(answers):
    return answers.public_dict()


def run(ctx):
    try:
        from stacktui import checks
    except ImportError:
        return
    results = checks.run_checks(ctx.answers, own_stack=ctx.layout.dest)
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
