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

# kolla-ansible 23 (2026.2) needs Python >= 3.12. On a 3.11 host the newest
# release that runs is 22.x (2026.1), whose ansible-core 2.19 supports 3.11.
KOLLA_SPEC = {(3, 11): "kolla-ansible>=22,<23"}.get(sys.version_info[:2], "kolla-ansible>=23,<24")
SPECS = [KOLLA_SPEC, "devstack-tools>=2"]


def _uv() -> list[str]:
    exe = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    return [exe] if exe else [sys.executable, "-m", "uv"]


def tool_venv() -> Path:
    root = Path(os.environ.get("STACKTUI_TOOL_VENV")
                or Path(tempfile.gettempdir()) / f"stacktui-tools-{sys.version_info[0]}{sys.version_info[1]}")
    stamp = root / ".specs"
    want = "\n".join(SPECS)
    if stamp.exists() and stamp.read_text() == want and (root / "bin" / "kolla-ansible").exists():
        return root
    r = subprocess.run(_uv() + ["venv", "-q", "--allow-existing", "--python", sys.executable,
                                str(root)], capture_output=True, text=True, timeout=300)
    if r.returncode == 0:
        r = subprocess.run(_uv() + ["pip", "install", "-q", "--python", str(root / "bin" / "python"),
                                    *SPECS], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        err = (r.stdout + r.stderr)[-600:]
        if any(s in err.lower() for s in ("dns", "connect", "network", "resolve", "timed out")):
            pytest.skip(f"PyPI unreachable: {err}")
        pytest.fail(f"installing {SPECS} failed: {err}")
    stamp.write_text(want)
    return root


@pytest.fixture(scope="session")
def tools() -> Path:
    return tool_venv()
