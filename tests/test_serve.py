"""`stacktui serve` in a real headless Chromium (Debian's), driven over the
DevTools protocol: the token gate, the wizard's first screens, and a pane
restarted from the dashboard of a supervisor running a tiny Python pane.

What the browser shows is read from the WebSocket frames the page receives
(the app's terminal output): xterm.js draws on a canvas, so the DOM holds
no text to read.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180),
              pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (test.sh installs it)")]
# As the machine notes say: without the background-networking flags Chromium
# keeps dialing Google's hosts, which this closed network refuses.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--remote-debugging-port=0", "--window-size=1200,800"]


class Served:
    def __init__(self, dest: Path, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "stacktui.cli", "--dest", str(dest),
                                      "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        self.url = None
        while time.monotonic() < deadline and self.url is None:
            line = self.proc.stdout.readline()
            m = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            if m:
                self.url = m.group(1)
        assert self.url, "serve printed no address"
        self.base = self.url.split("/?")[0]
        port = int(self.base.rsplit(":", 1)[1])
        import socket
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

    def stop(self):
        try:
            os.killpg(self.proc.pid, 15)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(5)


class Browser:
    """Headless Chromium and one page, spoken to over the DevTools protocol."""

    def __init__(self, root: Path):
        self.proc = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={root / 'chrome'}",
                                      "about:blank"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 30
        self.devtools = None
        while time.monotonic() < deadline and self.devtools is None:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                self.devtools = m.group(1)
        assert self.devtools, "chromium did not start"
        port = re.search(r":(\d+)/", self.devtools).group(1)
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        self.page_ws = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        self.screen = b""

    def stop(self):
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    async def open(self, url: str):
        import aiohttp
        self._session = aiohttp.ClientSession()
        self.ws = await self._session.ws_connect(self.page_ws, max_msg_size=0)
        self._id = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self._reader = asyncio.ensure_future(self._read())
        await self.cmd("Network.enable")
        await self.cmd("Page.enable")
        await self.cmd("Page.navigate", url=url)

    async def close(self):
        self._reader.cancel()
        await self.ws.close()
        await self._session.close()

    async def _read(self):
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.webSocketFrameReceived":
                r = data["params"]["response"]
                if r.get("opcode") == 2:
                    self.screen += base64.b64decode(r["payloadData"])

    async def cmd(self, method: str, **params):
        self._id += 1
        fut = asyncio.get_running_loop().create_future()
        self._waiting[self._id] = fut
        await self.ws.send_str(json.dumps({"id": self._id, "method": method, "params": params}))
        return await asyncio.wait_for(fut, 15)

    def text(self) -> str:
        return self.screen.decode("utf-8", "replace")

    async def wait(self, needle: str, timeout: float = 30, since: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.screen[since:].decode("utf-8", "replace"):
                return
            await asyncio.sleep(0.1)
        tail = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", " ", self.text())[-6000:]
        raise AssertionError(f"{needle!r} never reached the browser; last output:\n{tail}")

    async def click_terminal(self):
        for kind in ("mousePressed", "mouseReleased"):
            await self.cmd("Input.dispatchMouseEvent", type=kind, x=600, y=400, button="left",
                           clickCount=1)

    async def key(self, key: str, ctrl: bool = False):
        code = f"Key{key.upper()}" if len(key) == 1 else key
        vk = ord(key.upper()) if len(key) == 1 else 0
        down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk,
                "modifiers": 2 if ctrl else 0}
        if not ctrl and len(key) == 1:
            down["text"] = key
        await self.cmd("Input.dispatchKeyEvent", **down)
        await self.cmd("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                       windowsVirtualKeyCode=vk, modifiers=2 if ctrl else 0)


@pytest.fixture
def world():
    root = Path(tempfile.mkdtemp(prefix="srv", dir="/tmp"))
    env = {**os.environ, "XDG_STATE_HOME": str(root / "state"),
           "XDG_CONFIG_HOME": str(root / "cfg")}
    made: list = []
    try:
        yield root, env, made
    finally:
        for thing in reversed(made):
            thing.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_token_gate(world):
    root, env, made = world
    srv = Served(root / "wizard-dest", env)
    made.append(srv)

    def status(url, cookie=None):
        req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **kw):
                return None
        try:
            r = urllib.request.build_opener(NoRedirect).open(req, timeout=10)
            return r.status, r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.headers
    assert status(srv.base + "/")[0] == 403
    assert status(srv.base + "/ws")[0] == 403
    assert status(srv.base + "/?token=wrong")[0] == 403
    code, headers = status(srv.url)
    assert code == 302 and headers["Location"] == "/"          # the token leaves the URL
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert status(srv.base + "/", cookie.split(";")[0])[0] == 200
    token = srv.url.split("token=")[1]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert token not in ps                                       # never in a command line


def test_wizard_and_dashboard_in_chromium(world):
    root, env, made = world
    from tests.test_supervisor import Stack

    # A stack the dashboard can show: a supervisor with one tiny pane, and
    # the state of a finished install (else the resume screen comes first).
    dest = root / "stack"
    dest.mkdir()
    st = Stack(dest)
    st.sleeper("svc")
    client = st.client
    made.append(type("Down", (), {"stop": lambda self: client.shutdown(stop_panes=True)})())
    client.start(["svc"])
    st.layout.answers_file.parent.mkdir(parents=True, exist_ok=True)
    st.layout.answers_file.write_text(f"dest: {dest}\nhost_ip: 127.0.0.1\n")
    st.layout.state_file.write_text('{"version": 1, "steps": {"summary": {"status": "done"}}}')

    wiz = Served(root / "fresh", env)
    made.append(wiz)
    dash = Served(dest, env)
    made.append(dash)
    browser = Browser(root)
    made.append(browser)

    async def drive():
        await browser.open(wiz.url)
        await browser.wait("Welcome to stacktui")
        await browser.click_terminal()
        mark = len(browser.screen)
        await browser.key("n", ctrl=True)
        await browser.wait("Checking this machine", since=mark)
        await browser.wait("failed", timeout=60, since=mark)       # the checks' summary line
        if " 0 failed" not in browser.text()[-4000:]:
            await browser.key("o")                                  # the explicit override
        await asyncio.sleep(0.3)
        mark = len(browser.screen)
        await browser.key("n", ctrl=True)
        await browser.wait("Any printable character works", since=mark)
        await browser.close()

        old = next(p for p in client.status() if p["name"] == "svc")["pid"]
        browser.screen = b""
        await browser.open(dash.url)
        await browser.wait("FOLLOW")
        await browser.wait(f"pid {old}")
        await browser.click_terminal()
        await browser.key("r")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            p = next(p for p in client.status() if p["name"] == "svc")
            if p["pid"] not in (None, old) and p["state"] == "running":
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("r in the browser did not restart the pane")
        await browser.wait(f"pid {p['pid']}")
        await browser.close()

    asyncio.run(drive())
