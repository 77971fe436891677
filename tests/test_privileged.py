"""The prefixes that run an ordinary user's few root commands
(stacktui/privileged.py): empty as root; as a user, `sudo -n` with the
environment the command needs, and setpriv back to the user."""

from __future__ import annotations

import os

from stacktui import privileged


def test_as_root_is_the_command_itself_for_root(monkeypatch):
    monkeypatch.setattr(privileged.os, "geteuid", lambda: 0)
    assert privileged.as_root(["ip", "link"], env={"A": "1"}) == ["ip", "link"]
    assert privileged.as_me() == []


def test_an_ordinary_user_goes_through_sudo_n_and_comes_back(monkeypatch):
    monkeypatch.setattr(privileged.os, "geteuid", lambda: 1000)
    # -n: a start must fail at once rather than wait for a password no one types.
    assert privileged.as_root(["ip", "link"]) == ["sudo", "-n", "ip", "link"]
    # sudo resets the environment: what the command needs is handed through env.
    assert privileged.as_root(["ovs-vswitchd"], env={"OVS_RUNDIR": "/d/run"}) == [
        "sudo", "-n", "env", "OVS_RUNDIR=/d/run", "ovs-vswitchd"]
    me = privileged.as_me()
    assert me[0].endswith("setpriv") and me[-1] == "--"
    assert f"--reuid={os.getuid()}" in me and f"--regid={os.getgid()}" in me
    assert "--init-groups" in me
