"""A plugin package from plugins/ installed the way a user adds one to
stacktui's environment, for the plugins' end-to-end tests: into a folder
that every stacktui command of the test finds on its PYTHONPATH (entry
points are read from there; stacktui itself is the test venv's)."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def plugin_on_path(name: str, work: Path):
    from stacktui.phases.install import uv
    target = work / f"site-{name}"
    subprocess.run([uv(), "pip", "install", "-q", "--python", sys.executable, "--no-deps",
                    "--target", target, ROOT / "plugins" / name], check=True, timeout=300)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(target))
        yield target
