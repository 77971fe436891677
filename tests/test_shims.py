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
    program itself imports oslo.service, and keeps the process up after a
    service's wait() returned (neutron-ovn-agent's does at once) until the
    launcher's SIGTERM handler stops it. oslo.service lives in the stack's
    venv, not the test venv: a stand-in with its launch signature and its
    no_fork SIGTERM handler records the call here; the real launcher is
    checked by tests/test_e2e_devstack.py (n-cond, n-sch and q-ovn-agent one
    process each, the guest's metadata served)."""
    pkg = tmp_path / "oslo_service"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "service.py").write_text(
        "import os, signal\n"
        "def launch(conf, service, workers=1, restart_method='reload', no_fork=False):\n"
        "    print(f'launch workers={workers} no_fork={no_fork} restart={restart_method}',\n"
        "          flush=True)\n"
        "    def stop(*_):\n"
        "        print('stopped', flush=True)\n"
        "        os._exit(0)\n"
        "    signal.signal(signal.SIGTERM, stop)\n")
    prog = tmp_path / "bin" / "svc-program"
    prog.parent.mkdir()
    prog.write_text(
        "import sys\n"
        "print('imported before the program:', 'oslo_service.service' in sys.modules)\n"
        "from oslo_service import service\n"
        "print('argv', sys.argv[0].rsplit('/', 1)[1], sys.argv[1:], flush=True)\n"
        "service.launch(None, object(), workers=int(sys.argv[1]), restart_method='mutate',\n"
        "               no_fork=False)\n"
        "print('main returned', flush=True)\n")
    shim = tmp_path / "one_process.py"
    shim.write_text(shims.source("one_process"))

    def start(workers: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(shim), str(prog), workers, "--config-file",
                                 "x"], stdout=subprocess.PIPE, text=True,
                                env={"PYTHONPATH": str(tmp_path)})

    proc = start("1")
    try:
        assert [proc.stdout.readline().strip() for _ in range(3)] == [
            "imported before the program: False",
            "argv svc-program ['1', '--config-file', 'x']",
            "launch workers=1 no_fork=True restart=mutate"]
        time.sleep(0.5)
        assert proc.poll() is None          # main() did not return: the service runs on
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read().strip() == "stopped"
    finally:
        proc.kill()
        proc.wait()
    # more workers than one: forked as the program asks, nothing held
    proc = start("3")
    out, _ = proc.communicate(timeout=30)
    assert out.splitlines()[-2:] == ["launch workers=3 no_fork=False restart=mutate",
                                     "main returned"]
