"""cli.tui_args: the TUI's short way in must read argv as the full parser does."""

from __future__ import annotations

import pytest

from stacktui import cli


@pytest.mark.parametrize("argv", [
    [], ["--dest", "/x"], ["--dest=/x"], ["attach"], ["--dest", "/x", "attach"],
    ["attach", "--dest", "/x"], ["--dest", "/x", "attach", "--dest", "/y"],
])
def test_tui_args_agree_with_the_parser(argv):
    short = cli.tui_args(argv)
    full = cli.build_parser().parse_args(argv)
    assert short is not None
    assert (short.dest, short.command) == (getattr(full, "dest", None), full.command)


@pytest.mark.parametrize("argv", [
    ["-h"], ["--help"], ["status"], ["--dest", "/x", "status"], ["attach", "attach"],
    ["--dest"], ["--de", "/x"], ["install", "--yes"],
])
def test_anything_else_goes_to_the_parser(argv):
    assert cli.tui_args(argv) is None
