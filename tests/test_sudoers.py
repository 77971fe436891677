"""The sudoers drop-in of an ordinary user whose sudo asks a password
(stacktui/sudoers.py): the commands the stack's starts run as root, by
absolute path, and the exact rm that lets `clean` remove it; accepted by
sudo's own parser."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest

from stacktui import answers, sudoers
from stacktui.errors import StackError
from stacktui.paths import Layout

OVN = ["key", "q-svc", "q-ovn-agent", "ovn-controller", "ovn-northd", "ovs-vswitchd",
       "ovsdb-server"]


def make(dest, services):
    d = copy.deepcopy(answers.DEFAULTS)
    d.update({"dest": str(dest), "host_ip": "127.0.0.1", "enabled_services": services})
    return answers.Answers(data=d)


def test_only_a_stack_with_the_switch_or_the_agent_wants_one():
    assert not sudoers.wanted(make("/d", ["key", "g-api", "n-cpu"]))
    assert sudoers.wanted(make("/d", OVN))
    assert sudoers.wanted(make("/d", ["key", "g-api", "c-api", "c-sch", "c-vol"]))


def test_cinder_gets_its_rootwrap_and_helpers_by_the_venvs_path(tmp_path):
    """c-vol as a user whose sudo asks a password: the fake driver's losetup
    through the venv's cinder-rootwrap and os-brick's helper run through
    `sudo -n` at every attach, with no one there to type it."""
    layout = Layout(tmp_path / "stack")
    cmds = dict(sudoers.commands(make(layout.dest, ["key", "c-api", "c-sch", "c-vol"]), layout))
    assert str(layout.bin / "cinder-rootwrap") in cmds
    assert str(layout.bin / "privsep-helper") in cmds
    assert shutil.which("unshare", path=sudoers.SECURE_PATH) in cmds
    assert not any(c.endswith("/ip") for c in cmds)     # no network rules without neutron


def test_names_each_command_by_path_and_the_rm_of_itself(tmp_path):
    layout = Layout(tmp_path / "st,ack")
    text = sudoers.text(make(layout.dest, OVN), layout)
    rule = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(rule) == 1 and " ALL=(root) NOPASSWD: " in rule[0]
    cmds = rule[0].split("NOPASSWD: ", 1)[1]
    for c in cmds.split(", "):
        assert c.startswith("/"), c
    # The venv's helper, its comma escaped as sudoers wants.
    assert str(layout.bin / "privsep-helper").replace(",", "\\,") in cmds
    assert "ALL" not in cmds
    target = sudoers.path(layout.dest)
    assert cmds.endswith(f"{shutil.which('rm', path=sudoers.SECURE_PATH)} -f {target}")
    # sudo skips a name with a dot: the pending file has one, the final none.
    assert "." not in target.name
    # Each command says why, and the file says what it gives away.
    assert "can become root" in text and "`stacktui clean` removes it" in text
    visudo = shutil.which("visudo", path=sudoers.SECURE_PATH)
    if visudo:
        f = tmp_path / "rule"
        f.write_text(text)
        r = subprocess.run([visudo, "-cf", f], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_a_dest_with_whitespace_cannot_be_named(tmp_path):
    layout = Layout(tmp_path / "my stack")
    with pytest.raises(StackError, match="whitespace"):
        sudoers.text(make(layout.dest, OVN), layout)


def test_in_place_follows_the_copy_in_dest(tmp_path):
    layout = Layout(tmp_path / "stack")
    ans = make(layout.dest, OVN)
    assert not sudoers.in_place(layout, ans)
    sudoers.copy_in_dest(layout).parent.mkdir(parents=True)
    sudoers.copy_in_dest(layout).write_text(sudoers.text(ans, layout))
    assert sudoers.in_place(layout, ans)
    # A stack whose commands changed gets its rule written again.
    assert not sudoers.in_place(layout, make(layout.dest, ["key", "ovs-vswitchd", "ovsdb-server"]))
    assert sudoers.remove(Layout(tmp_path / "other")) is None


def test_install_without_the_password_says_how(tmp_path, monkeypatch):
    """A stack whose starts need root, a sudo that asks a password and no
    one to ask it (install without a terminal): refused before any step,
    with what to do."""
    from stacktui import destdir
    from stacktui.engine import Engine
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr(destdir, "sudo_kind", lambda: "password")
    layout = Layout(tmp_path / "stack")
    eng = Engine(make(layout.dest, OVN))
    with pytest.raises(StackError, match="install in a terminal"):
        eng._sudoers()
    # Written by an earlier install for these commands: nothing to ask.
    sudoers.copy_in_dest(layout).parent.mkdir(parents=True)
    sudoers.copy_in_dest(layout).write_text(sudoers.text(make(layout.dest, OVN), layout))
    eng._sudoers()
