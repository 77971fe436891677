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
    p = sub.add_parser("serve", help="the wizard or dashboard in a browser (textual-serve), on "
                                     "loopback, behind a random token printed once")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; others are reachable by "
                        "anyone with the token)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.set_defaults(func=cmd_serve)
    import argparse
    p = sub.add_parser("tui-web", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_tui_web)


def _dest(args) -> Path:
    from .stacks import resolve_dest
    return resolve_dest(args)


def unfinished_install(layout) -> dict | None:
    """What the state file says of an install that saved its answers but
    never reached its summary step; None for a finished one (or none)."""
    import json
    if not layout.answers_file.exists():
        return None
    try:
        steps = json.loads(layout.state_file.read_text()).get("steps", {})
    except (OSError, ValueError):
        steps = {}
    if (steps.get("summary") or {}).get("status") == "done":
        return None
    done = sum(1 for s in steps.values() if s.get("status") == "done")
    failed = next((k for k, s in steps.items() if s.get("status") == "failed"), None)
    return {"dest": layout.dest, "answers": layout.answers_file, "done": done, "failed": failed}


def _installed(layout, web: bool = False) -> int:
    info = unfinished_install(layout)
    if info is not None:
        return _run("resume", layout.dest, resume=info, web=web)
    return _run("dashboard", layout.dest, web=web)


def run_default(args, web: bool = False) -> int:
    """The dashboard of the stack meant (see stacks.resolve_dest), else the
    wizard; the choice to resume when that stack's install never finished.
    Without --dest, only a stack this user installed and owns: a stack
    someone else left in /opt/stack is not this user's to watch."""
    from .paths import Layout, check_owned
    from .stacks import own_stack, remembered_dest
    if getattr(args, "dest", None):
        layout = Layout(_dest(args))
        if layout.answers_file.exists():
            check_owned(layout)
            return _installed(layout, web)
    else:
        dest = remembered_dest(args)
        if dest is not None and own_stack(Layout(dest)):
            return _installed(Layout(dest), web)
    # Only an explicit --dest is pinned; otherwise the wizard shows the default
    # and lets the user change it.
    return _run("wizard", Path(args.dest).expanduser().resolve() if getattr(args, "dest", None)
                else None, web=web)


def cmd_attach(args) -> int:
    from .errors import Problem, UserError
    from .paths import Layout
    dest = _dest(args)
    layout = Layout(dest)
    if not layout.answers_file.exists() and not layout.socket.exists():
        raise UserError(Problem(f"no stack installed in {dest}", key="dest",
                                fix="run `stacktui` to install one, or pass --dest DIR"))
    from .paths import check_owned
    check_owned(layout)
    return _run("dashboard", dest)


def cmd_serve(args) -> int:
    try:
        import textual_serve  # noqa: F401
    except ModuleNotFoundError:
        from .errors import Problem, UserError
        raise UserError(Problem("`stacktui serve` needs textual-serve",
                                fix="pip install textual-serve (into stacktui's own venv)")) from None
    from .webserve import serve
    return serve(getattr(args, "dest", None), args.host, args.port)


def cmd_tui_web(args) -> int:
    """One browser session (started by `serve`): the app on the web driver."""
    return run_default(args, web=True)


def _run(start: str, dest, resume: dict | None = None, web: bool = False) -> int:
    if not web and (not sys.stdin.isatty() or not sys.stdout.isatty()):
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
    from . import destdir
    destdir.CAN_ASK = True      # the install screen asks sudo's password (screens/sudo.py)
    gc.disable()
    try:
        from .app import StackApp
    finally:
        gc.freeze()
        gc.enable()
    app = StackApp(start, dest, resume=resume)
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
