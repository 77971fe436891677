"""Horizon for real: keystone, glance, placement and horizon installed by the
CLI into a temporary DEST on free ports, then the login page, every CSS and
JavaScript file it names, a login over HTTP, and a login in Debian's headless
Chromium driven over the W3C WebDriver protocol (chromedriver speaks it over
HTTP, so no client library is needed).
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from .conftest import NASTY, free_ports, stacktui, teardown_stack, write_answers

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


# ---------------------------------------------------------------- settings

class _Ctx:
    def __init__(self, dest: Path, services, host_ip="127.0.0.1"):
        from stacktui.answers import Answers
        from stacktui.paths import Layout
        self.answers = Answers()
        self.answers.data.update(dest=str(dest), host_ip=host_ip, enabled_services=services,
                                 ports={"key": 15000, "horizon": 18080, "memcached": 11311})
        self.layout = Layout(dest)

    def endpoint(self, s):
        return f"http://{self.answers.url_host()}:{self.answers.port(s)}"


def _settings(ctx) -> dict:
    """configure() for real, then local_settings.py executed as Django would,
    with a stand-in for the HORIZON_CONFIG it may import."""
    import sys
    import types
    from stacktui.phases import horizon
    horizon.configure(ctx)
    fake = types.ModuleType("openstack_dashboard.settings")
    fake.HORIZON_CONFIG = {"user_home": "openstack_dashboard.views.get_user_home"}
    saved = {k: sys.modules.get(k) for k in ("openstack_dashboard", "openstack_dashboard.settings")}
    sys.modules["openstack_dashboard"] = types.ModuleType("openstack_dashboard")
    sys.modules["openstack_dashboard.settings"] = fake
    try:
        ns: dict = {}
        path = horizon.settings_file(ctx)
        exec(compile(path.read_text(), str(path), "exec"), ns)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    ns["_HORIZON_CONFIG"] = fake.HORIZON_CONFIG
    return ns


def test_settings_survive_any_path_and_point_at_keystone(tmp_path):
    dest = tmp_path / "a'b \"c $HOME %s {x}"
    ns = _settings(_Ctx(dest, ["key", "g-api", "horizon"]))
    assert ns["STATIC_ROOT"] == str(dest / "data" / "horizon" / "static")
    assert ns["OPENSTACK_KEYSTONE_URL"] == "http://127.0.0.1:15000/v3"
    assert ns["WEBROOT"] == "/dashboard/" and ns["COMPRESS_OFFLINE"] is True
    assert ns["SESSION_ENGINE"].endswith(".file")
    assert ns["SESSION_FILE_PATH"] == str(dest / "data" / "horizon" / "sessions")
    key = (dest / "etc" / "horizon" / "secret_key").read_text().strip()
    assert ns["SECRET_KEY"] == key
    # No Nova: log-ins open on Images, not on Nova's Overview (a 403).
    assert ns["_HORIZON_CONFIG"]["user_home"] == "/dashboard/project/images/"
    assert ns["OPENSTACK_NEUTRON_NETWORK"]["enable_quotas"] is False


def test_secret_key_is_made_once(tmp_path):
    ctx = _Ctx(tmp_path / "d", ["key", "horizon"])
    first = _settings(ctx)["SECRET_KEY"]
    assert _settings(ctx)["SECRET_KEY"] == first


def test_settings_with_nova_neutron_memcached_and_ipv6(tmp_path):
    ns = _settings(_Ctx(tmp_path / "d", ["key", "n-api", "q-svc", "memcached", "horizon"],
                        host_ip="::1"))
    assert "[::1]" in ns["ALLOWED_HOSTS"]
    assert ns["OPENSTACK_KEYSTONE_URL"] == "http://[::1]:15000/v3"
    assert ns["SESSION_ENGINE"].endswith(".cache")
    assert ns["CACHES"]["default"]["LOCATION"] == "[::1]:11311"
    assert ns["_HORIZON_CONFIG"]["user_home"] == "openstack_dashboard.views.get_user_home"
    assert "OPENSTACK_NEUTRON_NETWORK" not in ns


# ---------------------------------------------------------------- real stack

@pytest.fixture(scope="module")
def horizon_stack():
    # Outside pytest's 0700 tmp: the host check fails a DEST other users
    # cannot reach when a web dashboard is among the services.
    root = Path(tempfile.mkdtemp(prefix="stacktui-horizon-", dir="/var/tmp"))
    root.chmod(0o711)
    dest = root / "dest"
    key, gapi, placement, horizon = free_ports(4)
    answers = write_answers(root, dest, enabled_services=["key", "g-api", "placement-api", "horizon"],
                            ports={"key": key, "g-api": gapi, "placement-api": placement,
                                   "horizon": horizon})
    t0 = time.monotonic()
    try:
        r = stacktui("install", "--answers", answers, "--yes", timeout=1500)
        yield {"dest": dest, "root": root, "base": f"http://127.0.0.1:{horizon}",
               "install_seconds": time.monotonic() - t0, "output": r.stdout}
    finally:
        teardown_stack(dest)
        shutil.rmtree(root, ignore_errors=True)


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append(("js", a["src"]))
        elif tag == "link" and a.get("href") and "stylesheet" in (a.get("rel") or ""):
            self.urls.append(("css", a["href"]))
        elif tag == "link" and a.get("href"):
            self.urls.append(("other", a["href"]))


def _get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, r.headers, r.read()


def _check_assets(base: str, headers: dict | None = None) -> list[str]:
    status, _, body = _get(base + "/dashboard/auth/login/", headers)
    assert status == 200
    html = body.decode()
    assert "OfflineGenerationError" not in html and "offline compression" not in html.lower()
    p = _Assets()
    p.feed(html)
    kinds = {k for k, _ in p.urls}
    assert {"css", "js"} <= kinds, f"the login page names no CSS or no JS: {p.urls}"
    seen = []
    for kind, url in p.urls:
        full = url if url.startswith("http") else base + url
        try:
            status, hdrs, data = _get(full, headers)
        except urllib.error.HTTPError as e:
            pytest.fail(f"{url}: HTTP {e.code}")
        assert status == 200 and data, url
        ctype = hdrs.get("Content-Type", "")
        if kind == "css":
            assert ctype.startswith("text/css"), f"{url}: {ctype}"
        elif kind == "js":
            assert "javascript" in ctype, f"{url}: {ctype}"
        seen.append(url)
    return seen


@pytest.mark.e2e
def test_login_page_and_every_css_and_js_load(horizon_stack):
    seen = _check_assets(horizon_stack["base"])
    # Offline-compressed bundles, not the raw files a broken compress falls back to.
    assert any(re.search(r"/dashboard/static/dashboard/css/output\.\w+\.css$", u) for u in seen)
    assert any(re.search(r"/dashboard/static/dashboard/js/output\.\w+\.js$", u) for u in seen)


@pytest.mark.e2e
def test_every_theme_was_compressed(horizon_stack):
    # Each selectable theme has bundles of its own; a theme left out of
    # `compress` is the "offline compression enabled but key missing" page.
    seen = _check_assets(horizon_stack["base"], {"Cookie": "theme=material"})
    assert any("/css/output." in u for u in seen)


@pytest.mark.e2e
def test_root_redirects_to_dashboard(horizon_stack):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as e:
        opener.open(horizon_stack["base"] + "/", timeout=30)
    assert e.value.code == 302
    assert e.value.headers["Location"].endswith("/dashboard/")


@pytest.mark.e2e
def test_settings_and_secret_key_files(horizon_stack):
    dest = horizon_stack["dest"]
    key = dest / "etc" / "horizon" / "secret_key"
    settings = dest / "etc" / "horizon" / "local" / "local_settings.py"
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(key.read_text().strip()) >= 40
    assert settings.stat().st_mode & 0o777 == 0o640
    text = settings.read_text()
    assert key.read_text().strip() not in text
    for pw in NASTY.values():
        assert pw not in text
    # Nothing of ours was written into the venv.
    site = next((dest / "venv" / "lib").glob("python3*/site-packages"))
    assert not (site / "openstack_dashboard" / "local" / "local_settings.py").exists()
    manifest = json.loads((dest / "data" / "horizon" / "static" / "dashboard" / "manifest.json")
                          .read_text())
    assert len(manifest) >= 4


@pytest.mark.e2e
def test_http_login_keeps_session_under_dest(horizon_stack):
    base = horizon_stack["base"]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base + "/dashboard/auth/login/", timeout=60).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    form = {"csrfmiddlewaretoken": token, "username": "admin", "password": NASTY["admin"],
            "region": "default"}
    m = re.search(r'name="region" value="([^"]*)"', html)
    if m:
        form["region"] = m.group(1)
    r = opener.open(urllib.request.Request(
        base + "/dashboard/auth/login/", data=urllib.parse.urlencode(form).encode(),
        headers={"Referer": base + "/dashboard/auth/login/"}), timeout=60)
    assert r.status == 200
    assert "/auth/login" not in r.url, "login with the admin password was refused"
    assert "/dashboard/project/" in r.url
    sessions = list((horizon_stack["dest"] / "data" / "horizon" / "sessions").iterdir())
    assert sessions, "no session file under DEST/data/horizon/sessions"


# ---------------------------------------------------------------- browser

class WebDriver:
    """The few W3C WebDriver calls a login needs, over chromedriver's HTTP."""

    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

    def __init__(self, profile: Path, log: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.log = open(log, "w")
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise AssertionError("chromedriver did not become ready")
            time.sleep(0.2)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900"]
        caps = {"browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}
        self.sid = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]

    def _call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"webdriver {method} {path}: {e.read().decode()[:500]}") from None

    def s(self, method: str, path: str, body=None):
        return self._call(method, f"/session/{self.sid}{path}", body)

    def go(self, url: str) -> None:
        self.s("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        return self.s("POST", "/element", {"using": "css selector", "value": css})[self.ELEMENT]

    def type(self, css: str, text: str) -> None:
        self.s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def script(self, js: str):
        return self.s("POST", "/execute/sync", {"script": js, "args": []})

    def wait(self, js: str, timeout: float = 60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.script(js)
            if got:
                return got
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {js}")

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.s("GET", "/screenshot")))

    def close(self) -> None:
        try:
            self.s("DELETE", "")
        except (AssertionError, OSError):
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def browser(tmp_path):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(apt-get install chromium chromium-driver)")
    wd = WebDriver(tmp_path / "profile", tmp_path / "chromedriver.log")
    try:
        yield wd
    finally:
        wd.close()


@pytest.mark.e2e
def test_browser_logs_in_as_admin(horizon_stack, browser, tmp_path):
    base = horizon_stack["base"]
    browser.go(base + "/dashboard/")
    browser.wait("return document.readyState === 'complete' && "
                 "!!document.querySelector('#id_username')")
    assert "/dashboard/auth/login/" in browser.s("GET", "/url")
    browser.type("#id_username", "admin")
    browser.type("#id_password", NASTY["admin"])
    browser.click("#loginBtn")
    browser.wait("return location.pathname.indexOf('/dashboard/project/') === 0 && "
                 "document.readyState === 'complete'")
    answers = yaml.safe_load((horizon_stack["dest"] / "etc" / "stacktui" / "stacktui.yaml")
                             .read_text())
    # The project dashboard opens on Overview when Nova runs; this stack has
    # none, so Horizon is told to open on the Images panel (phases/horizon.py).
    panel = "overview" if "n-api" in answers["enabled_services"] else "images"
    browser.wait(f"return location.pathname.indexOf('/dashboard/project/{panel}') === 0")
    # The Images panel is an Angular view that fills its table after the API call.
    browser.wait("return !!document.querySelector('.page-header') && "
                 "document.body.innerText.indexOf('Displaying') >= 0")
    text = browser.script("return document.body.innerText")
    assert "admin" in text and "Project" in text
    shot = tmp_path / "horizon-project.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    # Every file the page loaded arrived; the browser says so, not the server.
    bad = browser.script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.responseStatus && e.responseStatus >= 400)"
        ".map(e => e.name + ' ' + e.responseStatus)")
    assert bad == []
    # A nav bar is position: static unless the theme's CSS applied.
    styled = browser.script("var n = document.querySelector('.navbar');"
                            "return n && getComputedStyle(n).position")
    assert styled == "fixed", "the page is unstyled: its CSS did not apply"
    logs = browser.s("POST", "/se/log", {"type": "browser"})
    # An Angular panel asks about Cinder, which this stack does not run:
    # that rejection names the missing service and is not a fault.
    severe = [e["message"] for e in logs if e["level"] == "SEVERE"
              and "Service type is not enabled" not in e["message"]]
    assert severe == []
