"""memcached (`memcached`): the token cache of keystone_authtoken in every
API service, and nova's cache. Nothing to configure or initialise: one
foreground process on HOST_IP, TCP only."""

from __future__ import annotations

import getpass

from stacktui import svckit
from stacktui.service import ServiceSpec, pane_spec

SERVICES = ("memcached",)
PACKAGES = ("memcached",)
# keystone-manage and nova-manage use the cache during init: memcached must
# be up before any init step, like the database.
START_EARLY = True
CACHE_MB = 64


def servers(answers) -> str:
    """memcached_servers as oslo.cache and keystonemiddleware want it."""
    return f"{answers.url_host()}:{answers.port('memcached')}"


def panes(ctx) -> list[dict]:
    exe = svckit.distro_program("memcached", "it")
    a = ctx.answers
    argv = [exe, "-l", a.bind_host, "-p", str(a.port("memcached")), "-U", "0", "-m", str(CACHE_MB),
            "-c", "1024"]
    if getpass.getuser() == "root":
        # memcached refuses root without -u; it needs no file of ours.
        argv += ["-u", "memcache" if _user_exists("memcache") else "nobody"]
    return [pane_spec(ctx, "memcached", argv, ready={"tcp": [a.bind_host, a.port("memcached")]},
                      port=a.port("memcached"), infra=True)]


def _user_exists(name: str) -> bool:
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


SPEC = ServiceSpec(
    "memcached", SERVICES, used_by_all=True,
    panes=panes, inputs=svckit.listen_inputs("memcached"), start_early=START_EARLY,
    packages=PACKAGES, kolla_flags={"memcached": ("enable_memcached",)})
