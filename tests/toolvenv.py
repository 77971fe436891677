"""One venv per machine with the ecosystem's own readers: devstack-tools
(dsconf, DevStack's Python reader of local.conf) and kolla-ansible with its
Ansible. Built once with uv (its cache makes a rebuild a second or two) and
shared by every test session; tests that need it skip when PyPI cannot be
reached."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# kolla-ansible 23 (2026.2) and its ansible-core need Python >= 3.12; with
# only 3.11 the newest release that runs is 22.x (2026.1, ansible-core 2.19).
# The bundle `ansible` brings the collections (ansible.utils, ...) that
# `kolla-ansible install-deps` would fetch from Galaxy, which may be
# unreachable from a test machine; PyPI is the one index the tests use.


def _python312() -> str | None:
    """A Python >= 3.12 on this machine: uv's own discovery first, then the
    usual pyenv place (pyenv shims are not on PATH here)."""
    r = subprocess.run(_uv() + ["python", "find", "--no-python-downloads", ">=3.12"],
                       capture_output=True, text=True)
    if r.returncode == 0 and r.stdout.strip():
        return r.stdout.strip()
    for cand in sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3"), reverse=True):
        if os.access(cand, os.X_OK):
            return str(cand)
    return None


def _specs(python: str) -> list[str]:
    new = subprocess.run([python, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                         capture_output=True, text=True).stdout.strip() == "True"
    kolla = "kolla-ansible>=23,<24" if new else "kolla-ansible>=22,<23"
    bundle = "ansible"   # the version that fits kolla-ansible's ansible-core
    return [kolla, bundle, "devstack-tools>=2"]


def _uv() -> list[str]:
    exe = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    return [exe] if exe else [sys.executable, "-m", "uv"]


def tool_venv() -> Path:
    python = _python312() or sys.executable
    specs = _specs(python)
    root = Path(os.environ.get("STACKTUI_TOOL_VENV")
                or Path(tempfile.gettempdir()) / "stacktui-tools")
    stamp = root / ".specs"
    want = "\n".join([python, *specs])
    if stamp.exists() and stamp.read_text() == want and (root / "bin" / "kolla-ansible").exists():
        return root
    r = subprocess.run(_uv() + ["venv", "-q", "--clear", "--python", python, str(root)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode == 0:
        r = subprocess.run(_uv() + ["pip", "install", "-q", "--python", str(root / "bin" / "python"),
                                    *specs], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        err = (r.stdout + r.stderr)[-600:]
        if any(s in err.lower() for s in ("dns", "connect", "network", "resolve", "timed out")):
            pytest.skip(f"PyPI unreachable: {err}")
        pytest.fail(f"installing {specs} failed: {err}")
    stamp.write_text(want)
    return root


def kolla_version(venv: Path) -> str:
    return subprocess.run([venv / "bin" / "python", "-c",
                           "import importlib.metadata as m; print(m.version('kolla-ansible'))"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="session")
def tools() -> Path:
    return tool_venv()
