"""Prerequisites: distro packages the chosen services need (stack.sh's install_prereqs),
with apt on the Debian family and dnf on the RHEL family.

The minimal cloud on SQLite needs none beyond Python; MariaDB, RabbitMQ and
friends add theirs through ``PACKAGES`` in their phase modules.
"""

from __future__ import annotations

import shutil

from stacktui import distro
from stacktui.context import GlobalStep


def packages(answers) -> list[str]:
    from stacktui.engine import service_specs
    pkgs: list[str] = []
    for spec in service_specs(answers):
        for p in spec.packages:
            if p not in pkgs:
                pkgs.append(p)
    if answers.sources and "git" not in pkgs and not shutil.which("git"):
        pkgs.append("git")
    return pkgs


def inputs(answers):
    return {"packages": packages(answers)}


def run(ctx):
    missing = distro.missing(packages(ctx.answers))
    if not missing:
        ctx.say("all distro packages present")
        return
    distro.install(ctx, missing)


STEP = GlobalStep(run, inputs)
