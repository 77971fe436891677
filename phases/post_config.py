"""Post-config: local.conf's [[post-config|$FILE]] blocks merged into the
generated files before the services start (stack.sh step 9)."""

from __future__ import annotations
from stacktui.context import GlobalStep


def inputs(answers):
    return {"post_config": answers.post_config}


def run(ctx):
    from stacktui import postconfig
    for path in postconfig.apply_contributed(ctx):
        ctx.say(f"merged other services' options into {path}")
    for path in postconfig.apply(ctx.answers, ctx.layout):
        ctx.say(f"merged post-config into {path}")


STEP = GlobalStep(run, inputs)
