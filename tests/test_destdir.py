"""Where DEST goes without answers saying so (stacktui/destdir.py): the
decision table, with the machine's answers (may this user write there, what
kind of sudo) replaced, since the test runs as root, for whom every folder
is writable. tests/test_e2e_users.py runs the real thing as ordinary users."""

from __future__ import annotations

import os

import pytest

from stacktui import destdir


@pytest.fixture
def opt(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    locked = tmp_path / "opt"           # a folder this "user" may not write
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(destdir.os, "access", lambda p, m: False if str(p).startswith(
        str(locked)) else real_access(p, m))
    monkeypatch.setattr(destdir, "CAN_ASK", None)
    return locked / "stack"


def kind(monkeypatch, value):
    monkeypatch.setattr(destdir, "sudo_kind", lambda: value)


@pytest.mark.parametrize("sudo,can_ask,where,why", [
    ("nopasswd", None, "opt", "install makes it with sudo"),
    ("password", True, "opt", "asking its password once"),
    ("password", False, "xdg", "which the wizard does not ask"),
    ("none", True, "xdg", "you have no sudo"),
])
def test_missing_opt_stack(opt, monkeypatch, tmp_path, sudo, can_ask, where, why):
    kind(monkeypatch, sudo)
    monkeypatch.setattr(destdir, "CAN_ASK", can_ask)
    dest, reason = destdir.choose(opt)
    assert dest == (opt if where == "opt" else tmp_path / "xdg" / "stacktui" / "stack")
    assert why in reason
    assert destdir.needs_sudo(opt)


def test_someone_elses_opt_stack_is_left_alone(opt, monkeypatch, tmp_path):
    kind(monkeypatch, "nopasswd")
    opt.mkdir()
    dest, reason = destdir.choose(opt)
    assert dest == tmp_path / "xdg" / "stacktui" / "stack" and "belongs to another user" in reason
    assert not destdir.needs_sudo(opt)


def test_own_opt_stack(tmp_path, monkeypatch):
    kind(monkeypatch, "none")
    mine = tmp_path / "stack"
    mine.mkdir()
    assert destdir.choose(mine) == (mine, f"{mine} exists and is writable")
