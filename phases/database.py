"""Database and queue: where each service keeps its data.

SQLite needs only a folder; MariaDB and RabbitMQ run in panes and are
brought up by their own phase modules (phases/mysql.py, phases/rabbit.py).
"""

from __future__ import annotations
from stacktui.context import GlobalStep
from stacktui.fsutil import make_dirs


def inputs(answers):
    return {"database": answers.database}


def run(ctx):
    d = ctx.layout.data
    make_dirs(d, mode=0o750)


STEP = GlobalStep(run, inputs)
