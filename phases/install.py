"""Install: the one OpenStack venv under DEST, built with uv from a lock.

A pinned lock plus uv's cache makes the venv almost free on a warm machine
(FIELD-NOTES section 4); projects the user points at git (the GIT_BASE habit)
are installed over it from their checkouts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from stacktui.context import GlobalStep
from stacktui.errors import StackError

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


LOCKS = ("minimal", "full")   # smallest first: the minimal cloud gets the small venv
# Lock entries built from source against distro headers (libvirt-python: an
# sdist needing libvirt-dev and a compiler, which the prerequisites step
# installs with libvirtd): installed only for a stack that needs them.
ON_DEMAND = frozenset({"libvirt-python"})


def _locks_dir() -> Path:
    return Path(str(resources.files("stacktui") / "data" / "locks"))


def _lock_projects(name: str) -> set[str]:
    text = (_locks_dir() / f"{name}.in").read_text()
    return {line.split("==")[0].strip().lower() for line in text.splitlines()
            if line.strip() and not line.startswith("#")}


def needed_projects(answers) -> set[str]:
    from stacktui import catalog
    from stacktui.engine import service_specs
    need = {catalog.get(s).package for s in answers.services if catalog.get(s).package}
    for spec in service_specs(answers):
        need |= set(spec.pip_packages)
    if answers.database == "mysql":
        need.add("pymysql")
    return {n.lower() for n in need} | {"python-openstackclient", "pyuwsgi"}


def plugin_locks(answers) -> list[Path]:
    """The pins of the enabled plugins (``ServiceSpec.lock``), installed over
    stacktui's own lock."""
    from stacktui.engine import service_specs
    return [s.lock for s in service_specs(answers) if s.lock]


def _pinned(path: Path) -> set[str]:
    return {line.split("==")[0].split("[")[0].strip().lower()
            for line in path.read_text().splitlines()
            if "==" in line and not line.lstrip().startswith("#")}


def lock_path(answers) -> Path:
    # What a plugin pins is its own lock's business, not stacktui's.
    covered = set().union(*(_pinned(p) for p in plugin_locks(answers)))
    need = needed_projects(answers) - covered
    for name in LOCKS:
        if need <= _lock_projects(name):
            return _locks_dir() / f"{name}.txt"
    raise StackError(f"no lock covers {', '.join(sorted(need - _lock_projects(LOCKS[-1])))}; "
                     "add them to stacktui/data/locks/full.in and regenerate full.txt")


def skipped(answers) -> set[str]:
    return set(ON_DEMAND & _lock_projects(lock_path(answers).stem) - needed_projects(answers))


def requirements(ctx) -> Path:
    """The lock, less the on-demand entries this stack does not need."""
    lock = lock_path(ctx.answers)
    skip = skipped(ctx.answers)
    if not skip:
        return lock
    keep = [line for line in lock.read_text().splitlines()
            if line.split("==")[0].strip().lower() not in skip]
    out = ctx.layout.etc / "stacktui" / f"{lock.stem}-requirements.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(keep) + "\n")
    return out


def uv() -> str:
    exe = shutil.which("uv")
    if exe:
        return exe
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except ImportError:
        raise StackError("uv not found: `pip install uv`") from None


def uv_run(ctx, args, timeout=1800):
    """uv with the user's pip index, mirror and CA (stacktui.pipconfig)."""
    from stacktui import pipconfig
    ctx.run([uv(), *args], env=pipconfig.uv_env(), timeout=timeout)


def inputs(answers):
    skip = skipped(answers)
    return {"lock": hashlib.sha256(lock_path(answers).read_bytes()).hexdigest(),
            **({"plugin_locks": [hashlib.sha256(p.read_bytes()).hexdigest()
                                 for p in plugin_locks(answers)]} if plugin_locks(answers) else {}),
            **({"skipped": sorted(skip)} if skip else {}),
            "sources": answers.sources, "python": sys.executable}


def present(ctx) -> bool:
    return (ctx.layout.venv / "bin" / "python").exists() and (ctx.layout.bin / "uwsgi").exists()


def devstack_way(ctx) -> None:
    """The baseline bench/bench_install.py measures against: DevStack's
    pip_install, one project after another, resolving each online, no lock."""
    venv = ctx.layout.venv
    if not (venv / "bin" / "python").exists():
        ctx.run([sys.executable, "-m", "venv", venv], timeout=600)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    for line in lock_path(ctx.answers).with_suffix(".in").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            ctx.run([*pip, line.strip()], timeout=1800)


def run(ctx):
    if os.environ.get("STACKTUI_BENCH_DEVSTACK_WAY") == "1":
        return devstack_way(ctx)
    venv = ctx.layout.venv
    py = venv / "bin" / "python"
    if not py.exists():
        uv_run(ctx, ["venv", "--seed", "-q", "--python", sys.executable, venv], timeout=600)
    ctx.progress(0.2, "installing the locked packages")
    uv_run(ctx, ["pip", "install", "--python", py, "--no-deps", "-r", requirements(ctx)])
    for lock in plugin_locks(ctx.answers):
        ctx.say(f"installing a plugin's locked packages ({lock})")
        uv_run(ctx, ["pip", "install", "--python", py, "--no-deps", "-r", lock])
    for project, spec in ctx.answers.sources.items():
        if spec.get("git"):
            ref = spec.get("branch") or "master"
            ctx.say(f"installing {project} from {spec['git']} ({ref})")
            uv_run(ctx, ["pip", "install", "--python", py, "--no-deps", "--reinstall-package",
                         project, f"git+{spec['git']}@{ref}"])
        elif spec.get("version"):
            uv_run(ctx, ["pip", "install", "--python", py, "--no-deps",
                         f"{project}=={spec['version']}"])
    ctx.progress(1.0)


STEP = GlobalStep(run, inputs, present)
