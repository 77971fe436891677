"""The noVNC console proxy (`n-novnc`): nova-novncproxy from the stack's venv
serving Debian's noVNC pages (/usr/share/novnc), as DevStack's lib/nova runs
it. nova.conf's [vnc] is nova's (phases/nova.py, :func:`vnc_section`); this
module brings the pane and the package.

Where a guest's VNC server listens: qemu runs in libvirtd's network
namespace. When that is the stack's own namespace (stacktui/netns.py), the
guest's VNC listens on the namespace's end of the link pair, which the host
(and so the proxy, an ordinary pane on the host) reaches by the link route;
otherwise on HOST_IP as in DevStack."""

from __future__ import annotations

from pathlib import Path

from stacktui import svckit
from stacktui.errors import StackError
from stacktui.service import ServiceSpec, default_inputs, pane_spec

SERVICES = ("n-novnc",)
PACKAGES = ("novnc",)
WEB = Path("/usr/share/novnc")
PAGE = "/vnc_lite.html"


def web_root() -> Path:
    if not (WEB / PAGE.lstrip("/")).exists():
        raise StackError(f"noVNC's pages are not in {WEB}: the prerequisites step installs "
                         "Debian's novnc")
    return WEB


def vnc_address(answers, layout) -> str:
    """Where qemu's VNC servers listen and the proxy connects to them."""
    from stacktui import netns
    from stacktui.phases import ovn
    if ovn.uses_netns(answers):
        return netns.ns_addr(layout)
    return answers.host_ip


def vnc_section(answers, layout) -> dict:
    """nova.conf's [vnc]: consoles on when n-novnc runs (DevStack's
    NOVA_VNC_ENABLED follows the service too)."""
    if "n-novnc" not in answers.services:
        return {"enabled": False}
    addr = vnc_address(answers, layout)
    port = answers.port("n-novnc")
    return {"enabled": True, "server_listen": addr, "server_proxyclient_address": addr,
            "novncproxy_host": answers.bind_host, "novncproxy_port": port,
            "novncproxy_base_url": f"http://{answers.url_host()}:{port}{PAGE}"}


def panes(ctx) -> list[dict]:
    from stacktui.phases import nova
    argv = [ctx.venv_bin("nova-novncproxy"), "--config-file", nova._conf(ctx),
            "--web", web_root()]
    return [pane_spec(ctx, "n-novnc", argv, env=nova._env(ctx),
                      ready=svckit.http_ready(ctx, "n-novnc", PAGE), port=ctx.answers.port("n-novnc"))]


def inputs(answers, phase):
    got = default_inputs(answers, "novnc")
    got["page"] = PAGE
    return got


SPEC = ServiceSpec(
    "novnc", SERVICES, panes=panes, inputs=inputs, packages=PACKAGES,
    # Its pane reads nova.conf, which nova's configure writes.
    start_after=frozenset({"nova"}),
    port_vars={"n-novnc": "NOVNC_PORT"}, kolla_flags={"n-novnc": ("enable_nova",)})
