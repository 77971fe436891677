"""stacktui/shims: the stand-in network API, run for real, and the driver
shims' text as stacktui copies it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from stacktui import shims

from .conftest import free_port


def test_no_network_api_answers_empty_lists_and_missing_items():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stacktui.shims.no_network_api", "127.0.0.1",
                             str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith(f"empty network API on 127.0.0.1:{port}")
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/v2.0/security-groups?fields=id", timeout=5) as r:
            assert json.load(r) == {"security_groups": []}
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{base}/v2.0/ports/abc", timeout=5)
        assert e.value.code == 404
        assert json.load(e.value)["NeutronError"]["type"] == "NotFound"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("name,cls", [("nova_fakevirt", "class StableFakeDriver"),
                                      ("cinder_fake_driver", "class FileBackedFakeDriver"),
                                      ("cinder_wsgi", "from cinder.wsgi.api import application")])
def test_driver_shims_are_python_stacktui_copies(name, cls):
    text = shims.source(name)
    compile(text, name, "exec")
    assert cls in text and text.startswith('"""Copied by stacktui')


def test_one_process_runs_a_one_worker_service_without_forking(tmp_path):
    """The shim runs a program's console script with oslo.service's launch
    asked for no_fork when one worker is wanted, wrapped only once the
    program itself imports oslo.service. oslo.service lives in the stack's
    venv, not the test venv: a stand-in with its launch signature records
    the call here; the real launcher is checked by tests/test_e2e_devstack.py
    (n-cond and n-sch one process each)."""
    pkg = tmp_path / "oslo_service"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "service.py").write_text(
        "def launch(conf, service, workers=1, restart_method='reload', no_fork=False):\n"
        "    print(f'launch workers={workers} no_fork={no_fork} restart={restart_method}')\n")
    prog = tmp_path / "bin" / "svc-program"
    prog.parent.mkdir()
    prog.write_text(
        "import sys\n"
        "print('imported before the program:', 'oslo_service.service' in sys.modules)\n"
        "from oslo_service import service\n"
        "print('argv', sys.argv[0].rsplit('/', 1)[1], sys.argv[1:])\n"
        "service.launch(None, object(), workers=int(sys.argv[1]), restart_method='mutate',\n"
        "               no_fork=False)\n")
    shim = tmp_path / "one_process.py"
    shim.write_text(shims.source("one_process"))

    def run(workers: str) -> list[str]:
        r = subprocess.run([sys.executable, str(shim), str(prog), workers, "--config-file", "x"],
                           capture_output=True, text=True, timeout=30,
                           env={"PYTHONPATH": str(tmp_path)})
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()

    assert run("1") == ["imported before the program: False",
                        "argv svc-program ['1', '--config-file', 'x']",
                        "launch workers=1 no_fork=True restart=mutate"]
    # more workers than one: forked as the program asks
    assert run("3")[-1] == "launch workers=3 no_fork=False restart=mutate"
