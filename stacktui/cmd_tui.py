"""`stacktui` without a command (wizard or dashboard) and `stacktui attach`.

Textual is imported only when one of these runs, so the rest of the CLI
starts fast and the core never depends on it.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("attach", help="the service dashboard: watch, restart, stop and start "
                                      "panes (re-attach, as with screen -r)")
    p.set_defaults(func=cmd_attach)


def _dest(args) -> Path:
    from .stacks import resolve_dest
    return resolve_dest(args)


def run_default(args) -> int:
    """The wizard when DEST holds no installed stack, else the dashboard."""
    from .paths import Layout
    dest = _dest(args)
    if Layout(dest).answers_file.exists():
        return _run("dashboard", dest)
    # Only an explicit --dest is pinned; otherwise the wizard shows the default
    # and lets the user change it.
    return _run("wizard", Path(args.dest).expanduser().resolve() if getattr(args, "dest", None)
                else None)


def cmd_attach(args) -> int:
    from .errors import Problem, UserError
    from .paths import Layout
    dest = _dest(args)
    layout = Layout(dest)
    if not layout.answers_file.exists() and not layout.socket.exists():
        raise UserError(Problem(f"no stack installed in {dest}", key="dest",
                                fix="run `stacktui` to install one, or pass --dest DIR"))
    return _run("dashboard", dest)


def _run(start: str, dest) -> int:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        from .errors import Problem, UserError
        raise UserError(Problem("the wizard and dashboard need a terminal",
                                fix="run in a terminal, or use `stacktui install --answers FILE` "
                                    "and `stacktui status`"))
    # Importing Textual makes some 60,000 objects the collector tracks, all
    # living as long as the process: without its passes over them the import
    # takes a few percent less CPU, and frozen (never scanned again) they add
    # nothing to later collections. Re-enabling without freezing would leave
    # them all young, and the first full collection (measured: at the first
    # keypress of an output flood) would pay for them at once.
    gc.disable()
    try:
        from .app import StackApp
    finally:
        gc.freeze()
        gc.enable()
    app = StackApp(start, dest)
    app.run()
    if getattr(app, "install_interrupted", False):
        import os
        print("stacktui: install interrupted; run `stacktui` or `stacktui install` again to "
              "resume", file=sys.stderr)
        sys.stderr.flush()
        os._exit(130)
    if app.return_code:
        return app.return_code
    return 0
