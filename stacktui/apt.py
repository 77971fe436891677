"""Distro packages through apt, non-interactive, patient with the dpkg lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from .errors import StackError

LOCK_RETRIES = 30       # x 10 s: unattended-upgrades on a fresh VM can hold it minutes
LOCK_WAIT = 10


def installed(pkg: str) -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def missing(pkgs) -> list[str]:
    if not pkgs:
        return []
    if not shutil.which("dpkg-query"):
        raise StackError("this is not a Debian-family system: install these packages with "
                         f"your package manager, then rerun: {' '.join(pkgs)}")
    return [p for p in pkgs if not installed(p)]


SUDO_PROMPT = r"\[sudo\] password for [^:\r\n]*: ?"


def _sudo(ctx) -> list[str]:
    if os.geteuid() == 0:
        return []
    # With the password the user typed once, sudo may ask: the runner answers
    # its prompt in the PTY. Without it, -n fails at once instead of hanging.
    return ["sudo"] if getattr(ctx, "sudo_password", None) else ["sudo", "-n"]


def _prompts(ctx) -> dict:
    pw = getattr(ctx, "sudo_password", None)
    return {SUDO_PROMPT: pw} if pw else {}


def failure(cmd: str, status: int, tail: list[str]) -> StackError:
    """What to say when a package install failed, a busy lock aside."""
    if os.geteuid() != 0 and "password is required" in "\n".join(tail):
        return StackError("installing distro packages needs root: allow passwordless sudo "
                           f"or run `sudo {cmd}` first")
    return StackError(f"{cmd.split()[0]} install failed (exit {status}): {tail[-1] if tail else ''}")


def install(ctx, pkgs: list[str]) -> None:
    # Package scripts must not start daemons: stacktui runs them in panes.
    env = {"DEBIAN_FRONTEND": "noninteractive", "RUNLEVEL": "1"}
    for attempt in range(LOCK_RETRIES):
        status, tail = ctx.run(_sudo(ctx) + ["apt-get", "install", "-y", "-q",
                                             "--no-install-recommends", "-o", "DPkg::Lock::Timeout=0",
                                             *pkgs],
                               env=env, check=False, timeout=1800, prompts=_prompts(ctx))
        if status == 0:
            return
        text = "\n".join(tail)
        if "Could not get lock" in text or "dpkg frontend lock" in text:
            ctx.say(f"apt is busy (another package manager holds the dpkg lock); "
                    f"retrying in {LOCK_WAIT} s ({attempt + 1}/{LOCK_RETRIES})")
            time.sleep(LOCK_WAIT)
            continue
        if "Unable to locate package" in text or "has no installation candidate" in text:
            ctx.run(_sudo(ctx) + ["apt-get", "update", "-q"], env=env, timeout=600,
                    prompts=_prompts(ctx))
            continue
        raise failure(f"apt-get install {' '.join(pkgs)}", status, tail)
    raise StackError("the dpkg lock stayed busy for 5 minutes; wait for the other package "
                     "manager to finish (ps aux | grep -E 'apt|dpkg') and rerun")
