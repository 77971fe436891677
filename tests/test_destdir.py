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
    ("password", False, "xdg", "nothing here can ask it"),
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


@pytest.mark.parametrize("given,says", [
    ("/", "is the root folder"),
    ("~", "is your home folder"),
    ("/usr", "is a system folder"),
    ("/opt/", "is a system folder"),
])
def test_dest_that_clean_would_wreck_is_refused(given, says):
    msg, fix = destdir.problem(given)
    assert says in msg and "stacktui clean` removes DEST" in msg and "e.g." in fix


def test_dest_not_a_folder_or_someone_elses(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    assert "is not a folder" in destdir.problem(f)[0]
    other = tmp_path / "theirs"
    other.mkdir()
    os.chown(other, 65534, 65534)       # nobody's: a real folder of another user
    msg, fix = destdir.problem(other)
    assert "belongs to nobody, not to you" in msg and "run stacktui as nobody" in fix
    assert destdir.problem(tmp_path / "new" / "stack") is None
    assert destdir.problem(tmp_path) is None


def test_answers_refuse_such_a_dest_with_line_key_and_fix(tmp_path):
    from stacktui import answers
    from stacktui.errors import UserError
    p = tmp_path / "stacktui.yaml"
    p.write_text("host_ip: 127.0.0.1\ndest: /\n")
    with pytest.raises(UserError) as e:
        answers.load(p)
    (prob,) = e.value.problems
    assert str(prob).startswith(f"{p}:2:1: dest: / is the root folder")
    assert "(a folder of its own, e.g. /opt/stack" in str(prob)
