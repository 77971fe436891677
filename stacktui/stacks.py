"""Which stack a command means, and the answers it was installed with.

Order (issue 2): --dest, the dest of --answers, ./stacktui.yaml, then the
stack this user installed last.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import answers as answers_mod
from .answers import Answers
from .errors import Problem, UserError
from .paths import Layout, check_owned, last_dest, read_marker


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


def remembered_dest(args) -> Path | None:
    """The stack a command without --dest means when this user has one:
    ./stacktui.yaml's, else the one last installed from this home folder.
    Never the default DEST by itself: what is there may be anyone's."""
    f = find_answers_file(args)
    if f:
        return answers_mod.load(f).dest
    return last_dest()


def own_stack(layout: Layout) -> bool:
    """True for a stack this user installed (its marker says so, or, for a
    stack older than the marker, this user owns its folders) and that no
    one else could have changed."""
    if not layout.answers_file.exists():
        return False
    try:
        check_owned(layout)
    except UserError:
        return False
    marker = read_marker(layout)
    return marker is None or marker.get("uid") == os.geteuid()


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
