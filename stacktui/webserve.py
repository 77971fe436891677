"""`stacktui serve`: the same app (wizard or dashboard) in a browser, through
textual-serve, behind a token.

The rules are the supervisor's (only this user): the server listens on
loopback unless told otherwise, and every request must carry a random
token, printed once to the terminal that started the server and nowhere
else (not in argv, not in a file, not in the access log, which is off).
The first request with ``?token=`` gets it back as an HttpOnly,
SameSite=Strict cookie and is redirected to a URL without it, so the token
does not stay in the address bar or the browser history. A WebSocket from
another origin is refused, cookie or not.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import shlex
import socket
import sys

COOKIE = "stacktui_token"


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def app_command(dest) -> str:
    """What each browser session runs: this stacktui, the web driver's way."""
    cmd = [sys.executable, "-m", "stacktui.cli"]
    if dest:
        cmd += ["--dest", str(dest)]
    return shlex.join(cmd + ["tui-web"])


def make_server(dest, host: str, port: int, token: str):
    from aiohttp import web
    from textual_serve.server import Server

    class TokenServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.insert(0, self._guard)
            return app

        @web.middleware
        async def _guard(self, request: web.Request, handler):
            given = request.query.get("token")
            if given is not None:
                if not hmac.compare_digest(given, token):
                    raise web.HTTPForbidden(text="wrong token\n")
                # The token leaves the URL at once; the cookie carries it on.
                query = {k: v for k, v in request.query.items() if k != "token"}
                resp = web.HTTPFound(request.rel_url.with_query(query))
                resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
                raise resp
            if not hmac.compare_digest(request.cookies.get(COOKIE, ""), token):
                raise web.HTTPForbidden(text="open the address `stacktui serve` printed "
                                             "(with its token)\n")
            origin = request.headers.get("Origin")
            if request.path == "/ws" and origin and origin != self.public_url:
                raise web.HTTPForbidden(text="cross-origin WebSocket refused\n")
            return await handler(request)

    return TokenServer(app_command(dest), host=host, port=port, title="stacktui")


def serve(dest, host: str = "127.0.0.1", port: int = 0, out=None) -> int:
    import asyncio

    from aiohttp import web

    out = out or sys.stdout
    if not port:
        port = free_port(host)
    token = secrets.token_urlsafe(24)
    server = make_server(dest, host, port, token)
    url = f"{server.public_url}/?token={token}"
    if not is_loopback(host):
        print(f"stacktui serve: listening on {host}, not loopback: anyone who can reach "
              f"it and has the token drives this stack", file=sys.stderr)
    print(f"stacktui serve: open {url}", file=out)
    print("(the token is shown only here; ctrl+c stops the server and every session)", file=out)
    out.flush()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    web.run_app(server._make_app(), host=host, port=port, access_log=None, print=None,
                handle_signals=True, loop=loop)
    return 0
