"""A user's own package mirror, behind a CA only pip.conf names: stacktui's
venv step (the stack's venv and tempest's) installs through it and nothing
else.

The mirror is an HTTPS index on loopback, its certificate signed by a CA
made here, that proxies the real index and logs every request; pip.conf is
the user's (~/.config/pip/pip.conf, under a temporary HOME) and names the
index and the CA. The install runs with an empty uv cache (so every file has
to be fetched) and with a dead HTTPS proxy for every host but loopback (so a
request to any other index fails instead of quietly succeeding).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from stacktui.paths import Layout
from stacktui.phases import tempest
from stacktui.tempest_conf import venv as tempest_venv

pytestmark = pytest.mark.e2e

UPSTREAM_INDEX = "https://pypi.org/simple/"
UPSTREAM_FILES = "https://files.pythonhosted.org/"
JSON = "application/vnd.pypi.simple.v1+json"


def make_ca_and_cert(d: Path) -> tuple[Path, Path, Path]:
    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=stacktui test mirror CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                           "extendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext")
    return d / "ca.pem", d / "srv.pem", d / "srv.key"


class Mirror:
    """PEP 691 JSON pages from the real index with every file URL pointed
    back here; files streamed from the real file host. ``log`` holds every
    path asked for."""

    def __init__(self, cert: Path, key: Path):
        self.log: list[str] = []
        # One pool of kept-alive upstream connections: a TLS handshake per
        # file made the mirror ten times slower than the real index.
        upstream = requests.Session()
        upstream.trust_env = False
        # The test process's trust, as urllib would have it (the system's).
        paths = ssl.get_default_verify_paths()
        upstream.verify = paths.cafile or paths.capath or True
        upstream.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=64))
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"     # uv keeps its connections too

            def log_message(self, *a):
                pass

            def do_HEAD(self):
                # uv asks before it reads a wheel's metadata by ranges; with no
                # Accept-Ranges in the answer it downloads the whole file.
                mirror.log.append("HEAD " + self.path)
                if not self.path.startswith("/files/"):
                    return self.send_error(404)
                r = upstream.head(UPSTREAM_FILES + self.path[len("/files/"):], timeout=60)
                if r.status_code != 200:
                    return self.send_error(r.status_code)
                self.send_response(200)
                self.send_header("Content-Length", r.headers["Content-Length"])
                self.end_headers()

            def do_GET(self):
                mirror.log.append(self.path)
                base = f"https://127.0.0.1:{mirror.port}"
                if self.path.startswith("/simple/"):
                    r = upstream.get(UPSTREAM_INDEX + self.path[len("/simple/"):],
                                     headers={"Accept": JSON}, timeout=60)
                    if r.status_code != 200:
                        return self.send_error(r.status_code)
                    page = r.json()
                    for f in page.get("files", []):
                        f["url"] = f["url"].replace(UPSTREAM_FILES, base + "/files/")
                    body = json.dumps(page).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", JSON)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif self.path.startswith("/files/"):
                    with upstream.get(UPSTREAM_FILES + self.path[len("/files/"):], stream=True,
                                      timeout=120) as r:
                        if r.status_code != 200:
                            return self.send_error(r.status_code)
                        self.send_response(200)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.send_header("Content-Length", r.headers["Content-Length"])
                        self.end_headers()
                        for chunk in r.iter_content(1 << 20):
                            self.wfile.write(chunk)
                else:
                    self.send_error(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def user_env(home: Path, **extra) -> dict:
    """An environment as `sudo -i` leaves it: no CA variables, no PIP_* or
    UV_* settings, a HOME of its own; every host but loopback behind a proxy
    that is not there."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "SSL_", "XDG_CONFIG"))
           and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(HOME=str(home), UV_CACHE_DIR=str(home / "uv-cache"),
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               ALL_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost")
    env.update(extra)
    return env


VENV_STEP = """
import sys
from pathlib import Path
from stacktui import answers, events
from stacktui.engine import Context
from stacktui.masking import Masker
from stacktui.paths import Layout
from stacktui.phases import install, tempest
dest = Path(sys.argv[1])
layout = Layout(dest)
ctx = Context(answers.load(dest=dest), layout, events.Bus(), None)
from stacktui.runner import Runner
ctx.runner = Runner(layout.stack_log, Masker([]))
install.run(ctx)
if sys.argv[2:] == ["tempest"]:
    tempest.install(layout, lambda argv, env: ctx.run(argv, env=env))
"""


def venv_step(dest: Path, env: dict, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", VENV_STEP, str(dest), *extra], env=env,
                          capture_output=True, text=True, timeout=900)


def fetched(log: list[str]) -> dict[str, set[str]]:
    """Project -> versions of the files the mirror served."""
    out: dict[str, set[str]] = {}
    for p in log:
        if not p.startswith("/files/"):
            continue
        name = Path(p).name.removesuffix(".metadata")
        if name.endswith(".whl"):
            project, version = name.split("-")[:2]
        else:
            project, _, version = re.sub(r"\.(tar\.gz|zip)$", "", name).rpartition("-")
        out.setdefault(norm(project), set()).add(version)
    return out


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def installed(python: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    # From the venv's own folder: a project folder as the working directory
    # would add its egg-info to what is "installed".
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True,
                         cwd=python.parent)
    return {norm(k): v for k, v in json.loads(out.stdout).items()}


@pytest.fixture
def mirror(tmp_path):
    ca, cert, key = make_ca_and_cert(tmp_path)
    m = Mirror(cert, key)
    m.ca = ca
    yield m
    m.close()


def test_venv_and_tempest_install_through_the_pip_conf_mirror_only(mirror, tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        f"[global]\nindex-url = {mirror.url}\ncert = {mirror.ca}\n")
    env = user_env(home)

    # What `check` says this user's installs will use.
    r = subprocess.run([sys.executable, "-m", "stacktui.cli", "check", "--json"], env=env,
                       capture_output=True, text=True, timeout=120)
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert mirror.url in checks["package index"]["measured"]
    assert str(home / ".config/pip/pip.conf") in checks["package index"]["measured"]
    assert checks["CA bundle"]["measured"].startswith(str(mirror.ca))

    # Without pip.conf the same step goes for pypi.org and cannot get there:
    # the blocked route is real, so the success below is the mirror's.
    fail_fast = {"UV_HTTP_RETRIES": "0"}
    bare = venv_step(tmp_path / "bare", user_env(tmp_path / "bare-home", **fail_fast))
    assert bare.returncode != 0
    assert mirror.log == []

    # A pip.conf naming the index but not the CA: uv must not get through
    # either (the UnknownIssuer), so the CA reached uv from pip.conf.
    nocert = tmp_path / "nocert-home"
    (nocert / ".config" / "pip").mkdir(parents=True)
    (nocert / ".config" / "pip" / "pip.conf").write_text(f"[global]\nindex-url = {mirror.url}\n")
    r = venv_step(tmp_path / "nocert", user_env(nocert, **fail_fast))
    assert r.returncode != 0
    assert re.search(r"UnknownIssuer|certificate", r.stdout + r.stderr +
                     (tmp_path / "nocert/logs/stack.log").read_text(), re.I)

    dest = tmp_path / "stack"
    done = venv_step(dest, env, "tempest")
    assert done.returncode == 0, done.stdout + done.stderr
    got = fetched(mirror.log)
    layout = Layout(dest)
    for venv in (layout.venv, tempest_venv(layout)):
        have = installed(venv / "bin" / "python")
        assert len(have) > 50
        missing = {n: v for n, v in have.items() if v not in got.get(n, ())}
        assert not missing, f"installed in {venv} but not fetched through the mirror: {missing}"
    assert (layout.bin / "keystone-manage").exists()
    assert tempest.tempest_bin(layout).exists()
