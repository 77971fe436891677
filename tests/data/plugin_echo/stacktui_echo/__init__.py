"""A stacktui plugin in the smallest form that is still real: one HTTP
service (`echo-api`) that serves a file its configure verb writes, checked
by its verify verb. It imports nothing from stacktui but the contract."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

from stacktui.service import ConfigFile, Service, ServiceSpec, pane_spec

NAME = "echo"
API = "echo-api"


def _etc(ctx):
    return ctx.layout.etc / NAME


def _page(ctx):
    return ctx.layout.data / NAME / "index.html"


def configure(ctx):
    _etc(ctx).mkdir(parents=True, exist_ok=True)
    (_etc(ctx) / "echo.conf").write_text(f"[DEFAULT]\nport = {ctx.answers.port(API)}\n")
    _page(ctx).parent.mkdir(parents=True, exist_ok=True)
    _page(ctx).write_text(f"echo from {ctx.answers.data['region']}\n")


def panes(ctx) -> list[dict]:
    port = ctx.answers.port(API)
    host = ctx.answers.url_host()
    argv = [ctx.venv_bin("python"), "-m", "http.server", "--bind", ctx.answers.data["host_ip"],
            str(port), "--directory", str(_page(ctx).parent)]
    return [pane_spec(ctx, API, argv, port=port, ready={"http": f"http://{host}:{port}/"})]


def verify(ctx, sess) -> None:
    url = f"http://{ctx.answers.url_host()}:{ctx.answers.port(API)}/index.html"
    with urllib.request.urlopen(url, timeout=10) as r:
        body = r.read().decode()
    if not body.startswith("echo from"):
        raise RuntimeError(f"{url} answered {body!r}")
    ctx.say(f"echo: {url} answers {body.strip()!r}")


def cleanup(ctx):
    for d in (_etc(ctx), _page(ctx).parent):
        shutil.rmtree(d, ignore_errors=True)


SPEC = ServiceSpec(
    NAME, (API,),
    rows=(Service(API, NAME, "Echo test service", 18999, (), 12, 1, 0, NAME, "pymemcache",
                  implemented=True),),
    lock=Path(__file__).with_name("lock.txt"),
    configure=configure, panes=panes, verify=verify, cleanup=cleanup,
    config_files=(ConfigFile("$ECHO_CONF", NAME, "echo.conf", "/etc/echo/echo.conf"),),
    port_vars={API: "ECHO_PORT"}, devstack_plugins=("echo",),
    kolla_notes={API: "Kolla-Ansible has no echo service"})
