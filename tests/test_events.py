"""The typed events (stacktui/events.py): the one place their shape is
written, read by the CLI printer and the supervisor's follow stream alike,
with the core free of Textual."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stacktui import events
from stacktui.cmd_stack import Printer

ROOT = Path(__file__).resolve().parent.parent


def test_the_core_and_the_cli_load_no_textual():
    code = ("import sys; import stacktui.events, stacktui.engine, stacktui.supervisor, "
            "stacktui.client, stacktui.cmd_stack; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] == 'textual'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_events_are_frozen_and_reject_unknown_fields():
    ev = events.StepDone(step="init:keystone", seconds=1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.seconds = 2          # type: ignore[misc]
    with pytest.raises(TypeError):
        events.StepDone(step="x", secs=1)   # a misspelt field fails where it is written
    assert ev.to_dict()["kind"] == "StepDone"
    assert json.loads(json.dumps(ev.to_dict()))["seconds"] == 1.5


def test_every_emit_in_the_tree_passes_an_event_object():
    """No view or step goes back to a kind string and a dict: every
    ``.emit(`` call is given one constructed event class of events.py."""
    kinds = {n for n, v in vars(events).items()
             if isinstance(v, type) and issubclass(v, events.Event) and v is not events.Event}
    bad, seen = [], 0
    for f in [*ROOT.glob("stacktui/*.py"), *ROOT.glob("screens/*.py"), *ROOT.glob("phases/*.py")]:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "emit" and "bus" in ast.unparse(node.func.value):
                seen += 1
                arg = node.args[0] if len(node.args) == 1 and not node.keywords else None
                name = arg.func.attr if isinstance(arg, ast.Call) and \
                    isinstance(arg.func, ast.Attribute) else None
                if name not in kinds:
                    bad.append(f"{f.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert seen >= 10 and not bad, (seen, bad)


def test_the_cli_printer_reads_typed_events(capsys):
    p = Printer(verbose=True)
    p(events.Plan(steps=(events.PlanStep("init:keystone", "init", "keystone", 4),
                         events.PlanStep("summary", "summary"))))
    p(events.StepStart(step="init:keystone"))
    p(events.Output(step="init:keystone", text="db sync"))
    p(events.StepFail(step="init:keystone", error="no database", log="/d/logs/stack.log"))
    p(events.StepSkip(step="summary"))
    out = capsys.readouterr().out
    assert "    db sync" in out
    assert "[ 0/2] init:keystone FAILED: no database" in out
    assert "    log: /d/logs/stack.log" in out
    assert "[ 1/2] summary: done before, unchanged" in out


def test_pane_lines_round_trip_and_tolerate_an_old_message():
    msg = events.PaneLines(("a", "b"), skipped=3)
    assert events.PaneLines.from_dict(json.loads(json.dumps(msg.to_dict()))) == msg
    assert events.PaneLines(("a",)).to_dict() == {"lines": ["a"]}
    assert events.PaneLines.from_dict({"lines": ["x"]}) == events.PaneLines(("x",))
    assert events.PaneLines.from_dict(None) == events.PaneLines()
