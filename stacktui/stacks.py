"""Which stack a command means, and the answers it was installed with.

Order (issue 2): --dest, the dest of --answers, ./stacktui.yaml, then the
stack this user installed last.
"""

from __future__ import annotations

from pathlib import Path

from . import answers as answers_mod
from .answers import Answers
from .errors import Problem, UserError
from .paths import Layout, check_owned, last_dest


def find_answers_file(args) -> Path | None:
    explicit = getattr(args, "answers", None)
    if explicit:
        return Path(explicit)
    here = Path.cwd() / answers_mod.ANSWERS_NAME
    return here if here.exists() else None


def resolve_dest(args) -> Path:
    if getattr(args, "dest", None):
        return Path(args.dest).expanduser().resolve()
    f = find_answers_file(args)
    if f:
        return answers_mod.load(f).dest
    last = last_dest()
    if last:
        return last
    return answers_mod.default_dest()


def installed_answers(layout: Layout) -> Answers:
    """The answers saved in DEST at install time (secrets from the 0600 file)."""
    if not layout.answers_file.exists():
        raise UserError(Problem(f"no stack installed in {layout.dest}", key="dest",
                                fix="run `stacktui install`, or pass --dest DIR of an installed stack"))
    return answers_mod.load(layout.answers_file)


def installed(args) -> tuple[Layout, Answers]:
    layout = Layout(resolve_dest(args))
    check_owned(layout)
    return layout, installed_answers(layout)
