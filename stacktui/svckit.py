"""Pieces every OpenStack service's phase module shares: database URLs,
keystone_authtoken, uwsgi command lines, worker counts."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .errors import StackError
from .fsutil import atomic_write
from .paths import Layout


def workers(answers) -> int:
    """API workers per service: DevStack's max(2, nproc/4) on hosts of 4 cores
    or more; one on smaller hosts, where every extra worker is RAM the host
    does not have."""
    w = answers.workers
    if w != "auto":
        return int(w)
    n = os.cpu_count() or 1
    return max(2, n // 4) if n >= 4 else 1


def db_url(answers, layout: Layout, name: str) -> str:
    if answers.database == "sqlite":
        path = layout.data / name / f"{name}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    from . import registry
    spec = registry.database_spec(answers.database)
    if spec is None or spec.db_url is None:
        raise StackError(f"database: {answers.database!r} is no database server a service "
                         "provides; use sqlite or the server's name")
    return spec.db_url(answers, name)


def distro_program(name: str, how: str) -> str:
    """A program the prerequisites step installs from the distribution: on
    PATH, or in /usr/bin, which a reduced PATH (sudo's, a unit's) may lack."""
    exe = shutil.which(name) or f"/usr/bin/{name}"
    if not shutil.which(exe):
        raise StackError(f"{name} not found: the prerequisites step installs {how}")
    return exe


def listen_inputs(service: str):
    """The ``inputs`` verb of a daemon whose pane depends only on where it
    listens: the service's port and the host address."""
    def inputs(answers, phase) -> dict:
        return {"port": answers.port(service), "host_ip": answers.host_ip}
    return inputs


def auth_url(answers) -> str:
    return f"http://{answers.url_host()}:{answers.port('key')}"


def service_auth(answers, user: str) -> dict:
    """A keystoneauth password section for a service calling another one
    ([placement], [neutron], [nova], [service_user] ...)."""
    return {"auth_type": "password", "auth_url": auth_url(answers), "username": user,
            "password": answers.password("service"), "user_domain_name": "Default",
            "project_name": "service", "project_domain_name": "Default",
            "region_name": answers.region}


def authtoken(answers, user: str) -> dict:
    """[keystone_authtoken] for a service that validates tokens as ``user``."""
    url = auth_url(answers)
    return {
        "www_authenticate_uri": url, "auth_url": url, "auth_type": "password",
        "username": user, "password": answers.password("service"), "project_name": "service",
        "user_domain_name": "Default", "project_domain_name": "Default",
        "region_name": answers.region, "service_token_roles_required": True,
    }


def uwsgi_argv(ctx, service: str, module: str, *extra: str) -> list[str]:
    """uwsgi serving ``module`` on HOST_IP:port, dying on SIGTERM (its default
    is to reload) so a pane's stop really stops it."""
    a = ctx.answers
    return [ctx.venv_bin("uwsgi"), "--http-socket", f"{a.url_host()}:{a.port(service)}",
            "--module", module, "--master", "--die-on-term", "--need-app", "--lazy-apps",
            "--enable-threads", "--processes", str(workers(a)), "--threads", "1",
            "--buffer-size", "65535", "--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
            "--procname-prefix", f"{service}: ",
            # uwsgi's http-socket closes each connection after a response without
            # saying so; clients that reuse it get a reset. DevStack adds this too.
            "--add-header", "Connection: close", *extra]


def http_ready(ctx, service: str, path: str = "/") -> dict:
    return {"http": f"http://{ctx.answers.url_host()}:{ctx.answers.port(service)}{path}"}


def policy_files(etc) -> dict:
    """[oslo_policy] naming files in the service's own folder. The defaults
    are relative (policy.yaml, policy.d), and oslo.config looks for a
    relative name in /etc/<project>/ and /etc/ as well: a policy left there
    by another install would change this cloud's rules. Neither file is
    written; the rules in each service's code apply."""
    return {"policy_file": etc / "policy.yaml", "policy_dirs": etc / "policy.d"}


def copy_paste_ini(src: Path, dst: Path, disable_file: Path) -> None:
    """A project's paste pipeline, with the file that turns its /healthcheck
    to 503 moved under DEST: the shipped one (/etc/glance/...,
    /var/lib/neutron/...) would let a file left there by another install
    report this cloud's API as down."""
    text = Path(src).read_text()
    text = re.sub(r"(?m)^(disable_by_file_path\s*=\s*).*$",
                  lambda m: m.group(1) + str(disable_file), text)
    atomic_write(dst, text)


def osbrick_helper(ctx, argv: list[str]) -> str:
    """oslo.privsep's helper_command for os-brick, in a mount namespace where
    DEST/data/nvme stands for /etc/nvme: os-brick's connector makes that
    folder and its host NQN and id on its first call (LightOS's and NVMe-oF's
    connector properties; no option moves them), outside DEST on every host
    that attaches a volume.
    No --fork: privsep-helper daemonizes, and its daemon must keep the
    namespace after the first process exits. An ordinary user's helper goes
    through `sudo -n` by the venv's path (oslo.privsep's default names a bare
    rootwrap, which sudo's secure_path never finds in a venv)."""
    import shlex
    import sys
    from .privileged import as_root
    nvme = ctx.layout.data / "nvme"
    nvme.mkdir(parents=True, exist_ok=True)
    return shlex.join(as_root(["unshare", "--mount", "--propagation", "private", "--",
                               sys.executable, "-m", "stacktui.nsbind", str(nvme), "/etc/nvme",
                               "--", *map(str, argv)]))


def cache(answers) -> dict:
    """oslo.cache's [cache] on memcached when it runs (keystone's token cache,
    nova's); empty otherwise, so services keep their in-process default."""
    if "memcached" not in answers.services:
        return {}
    servers = f"{answers.url_host()}:{answers.port('memcached')}"
    return {"enabled": True, "backend": "dogpile.cache.pymemcache", "memcache_servers": servers}


def pane_started(ctx, name: str) -> float:
    """When the supervisor last started pane ``name`` (epoch seconds; 0 if
    never): a service's report older than that came from its previous life."""
    for p in ctx.client.status(rss=False):
        if p["name"] == name:
            return p.get("started_at") or 0.0
    return 0.0


def reported_since(service: dict, since: float) -> bool:
    """True when an os-services record (nova, cinder) was updated after
    ``since``. Its `state: up` alone only means a report in the last
    service_down_time (60 s): after a reboot that is the dead process's."""
    from datetime import datetime, timezone
    stamp = service.get("updated_at")
    if not stamp:
        return False
    try:
        t = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)     # nova and cinder store UTC
    return t.timestamp() >= since


# An oslo.service program run in one process (stacktui/shims/one_process.py):
# configure writes the shim beside the service's config, its pane runs it.
ONE_PROCESS = "stacktui_one_process.py"


def write_one_process(etc: Path) -> None:
    from . import shims
    atomic_write(Path(etc) / ONE_PROCESS, shims.source("one_process"), mode=0o640)


def one_process(ctx, etc: Path, program: str, *args) -> list[str]:
    """The argv of venv program ``program`` with one worker in one process:
    oslo.service's native-threading launcher would fork that worker from a
    master holding the same imports, twice the RSS for nothing the pane's
    supervisor does not already do (it restarts a service that dies).
    nova-compute asks for this itself; nova-conductor, nova-scheduler and
    neutron-ovn-agent run this way through the shim."""
    return [ctx.venv_bin("python"), str(Path(etc) / ONE_PROCESS), ctx.venv_bin(program),
            *map(str, args)]
