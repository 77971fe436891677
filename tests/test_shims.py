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
