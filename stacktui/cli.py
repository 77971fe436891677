"""`stacktui` command line: one view of the engine's events (the TUI is another).

Each group of commands lives in its own module with a ``register(sub)``
function that adds its subparsers and sets ``func``; this file only wires
them together and turns UserError into exit code 2.
"""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

from .errors import StackError, UserError

# Modules that add subcommands; each has register(subparsers).
COMMAND_MODULES = (
    "stacktui.cmd_stack",      # install, status, start/stop/restart, logs, up, unstack, clean
    "stacktui.cmd_check",      # check
    "stacktui.cmd_convert",    # import-localconf, export-localconf, answers, export-kolla
    "stacktui.cmd_verify",     # verify [--tempest smoke|full|REGEX]
    "stacktui.cmd_tui",        # (no subcommand) wizard / dashboard, attach
)


def build_parser() -> argparse.ArgumentParser:
    import argparse     # here: the TUI's way in (tui_args) does without it
    p = argparse.ArgumentParser(
        prog="stacktui",
        description="Install and run an OpenStack development cloud on this machine "
                    "(a DevStack stack.sh replacement). Without a command: the wizard, "
                    "or the dashboard when a stack is installed.")
    p.add_argument("--dest", help="the stack's folder (default: from --answers, ./stacktui.yaml, "
                                  "or the stack you installed last)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    # `stacktui status --dest D` as well as `stacktui --dest D status`;
    # SUPPRESS keeps a subcommand from resetting a --dest given before it.
    for sp in sub.choices.values():
        if not any("--dest" in a.option_strings for a in sp._actions):
            sp.add_argument("--dest", default=argparse.SUPPRESS, help="the stack's folder")
    return p


def tui_args(argv: list[str]) -> SimpleNamespace | None:
    """`stacktui [--dest D]` and `stacktui [--dest D] attach [--dest D]`, read
    without build_parser(): importing every command module for it costs the
    TUI's first paint tens of milliseconds. Anything else (--help, another
    command, an abbreviation) returns None and goes to the full parser."""
    dest, command = None, None
    it = iter(argv)
    for tok in it:
        if tok == "--dest":
            dest = next(it, None)
            if dest is None:
                return None
        elif tok.startswith("--dest="):
            dest = tok.partition("=")[2]
        elif tok == "attach" and command is None:
            command = tok
        else:
            return None
    return SimpleNamespace(dest=dest, command=command)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from . import registry
    registry.load_plugins()     # the wizard and every command see plugins' services
    args = tui_args(argv)
    if args is not None:
        from . import cmd_tui
        func = cmd_tui.cmd_attach if args.command == "attach" else cmd_tui.run_default
    else:
        parser = build_parser()
        args = parser.parse_args(argv)
        func = getattr(args, "func", None)
    if func is None:
        from . import cmd_tui
        func = cmd_tui.run_default
    try:
        return int(func(args) or 0)
    except UserError as e:
        for p in e.problems:
            print(f"stacktui: {p}", file=sys.stderr)
        return 2
    except StackError as e:
        print(f"stacktui: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stacktui: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
