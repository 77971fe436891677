"""Horizon (`horizon`): the dashboard under uwsgi at http://HOST_IP:PORT/dashboard.

configure writes local_settings.py (Python, so every value is a repr()) and a
secret key made once; init collects the static files and compresses them
offline, so no page ever asks for a missing bundle (the "offline compression
enabled but key missing" error of a seed) or a 404; start serves the
application and the static files from the same uwsgi.

local_settings.py lives in DEST/etc/horizon/local/, not in the venv:
openstack_dashboard.settings imports it as the top-level package ``local``
(it appends its own folder to sys.path), so DEST/etc/horizon on PYTHONPATH,
which comes first, wins. Nothing is written into the venv, and a rebuilt
venv loses no configuration.
"""

from __future__ import annotations

import secrets
import shutil
import socket

from stacktui import svckit
from stacktui.fsutil import atomic_write, make_dirs
from stacktui.service import ServiceSpec, pane_spec

SERVICES = ("horizon",)
# uwsgi takes static files' Content-Type from /etc/mime.types; without it CSS
# arrives as text/plain and browsers refuse to apply it.
PACKAGES = ("media-types",)
WEBROOT = "/dashboard/"
SETTINGS = "openstack_dashboard.settings"
# Offline compression of every theme's SCSS takes a while on two cores.
INIT_TIMEOUT = 1200
READY_TIMEOUT = 180


def _etc(ctx):
    return ctx.layout.etc / "horizon"


def _data(ctx):
    return ctx.layout.data / "horizon"


def static_root(ctx):
    return _data(ctx) / "static"


def settings_file(ctx):
    return _etc(ctx) / "local" / "local_settings.py"


def secret_key_file(ctx):
    return _etc(ctx) / "secret_key"


def url(ctx) -> str:
    return f"{ctx.endpoint('horizon')}{WEBROOT}"


def _env(ctx) -> dict:
    return {"PYTHONPATH": str(_etc(ctx)), "DJANGO_SETTINGS_MODULE": SETTINGS}


def allowed_hosts(ctx) -> list[str]:
    """Names a browser may put in the Host header. Django answers 400 to any
    other, which is what a user who browses to the host's name would see."""
    # An IPv6 Host header carries brackets, and Django compares it as sent.
    hosts = [ctx.answers.url_host(), "localhost", "127.0.0.1", "[::1]"]
    for name in (socket.gethostname(), socket.getfqdn()):
        if name and name not in hosts:
            hosts.append(name)
    return hosts


def render_settings(ctx) -> str:
    a = ctx.answers
    data = _data(ctx)
    key_url = f"http://{a.url_host()}:{a.port('key')}/v3"
    memcached = "memcached" in a.services
    if memcached:
        cache = {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                 "LOCATION": f"{a.url_host()}:{a.port('memcached')}"}
    else:
        # Per-process cache: Horizon keeps nothing in it that the workers must
        # share, because sessions are files (below), not cache entries.
        cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    values = {
        "DEBUG": False,
        "WEBROOT": WEBROOT,
        "ALLOWED_HOSTS": allowed_hosts(ctx),
        "OPENSTACK_HOST": a.host_ip,
        "OPENSTACK_KEYSTONE_URL": key_url,
        "OPENSTACK_KEYSTONE_DEFAULT_DOMAIN": "Default",
        "OPENSTACK_KEYSTONE_DEFAULT_ROLE": "member",
        "OPENSTACK_API_VERSIONS": {"identity": 3},
        "OPENSTACK_ENDPOINT_TYPE": "publicURL",
        # Horizon asks Neutron about quotas, routers and RBAC without looking
        # at the catalog first: the project Overview answers 500 without it.
        "OPENSTACK_NEUTRON_NETWORK": ({} if "q-svc" in a.services else
                                      {"enable_quotas": False, "enable_router": False,
                                       "enable_rbac_policy": False,
                                       "enable_auto_allocated_network": False}),
        "STATIC_ROOT": str(static_root(ctx)),
        "MEDIA_ROOT": str(data / "media"),
        # Uploaded images over 2.5 MB wait here before they go to glance
        # (Django's default is the system's temp folder).
        "FILE_UPLOAD_TEMP_DIR": str(data / "uploads"),
        "COMPRESS_ENABLED": True,
        "COMPRESS_OFFLINE": True,
        "COMPRESS_ROOT": str(static_root(ctx)),
        # Sessions in files when there is no memcached: every uwsgi worker
        # sees them (a per-process cache would log users out at random), and
        # unlike signed-cookie sessions they have no 4 KB limit for the token.
        "SESSION_ENGINE": ("django.contrib.sessions.backends.cache" if memcached
                           else "django.contrib.sessions.backends.file"),
        "SESSION_FILE_PATH": str(data / "sessions"),
        "CACHES": {"default": cache},
        "SESSION_TIMEOUT": 3600,
        "LOGGING": {
            "version": 1, "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "root": {"handlers": ["console"], "level": "WARNING"},
            "loggers": {"horizon": {"level": "INFO"}, "openstack_auth": {"level": "INFO"},
                        "openstack_dashboard": {"level": "INFO"}},
        },
    }
    lines = ['"""Horizon settings written by stacktui: the next `stacktui install`',
             'rewrites this file."""', ""]
    lines += [f"{k} = {v!r}" for k, v in values.items() if v != {}]
    if "n-api" not in a.services:
        # The project dashboard opens on its Overview, a Nova panel: without
        # Nova a fresh login would land on a 403. Open on a panel this cloud has.
        home = WEBROOT + ("project/images/" if "g-api" in a.services else "project/api_access/")
        lines += ["", "from openstack_dashboard.settings import HORIZON_CONFIG",
                  f"HORIZON_CONFIG['user_home'] = {home!r}"]
    # The key is read at start, so this file (0640) holds no secret.
    lines += ["", f"with open({str(secret_key_file(ctx))!r}, encoding='ascii') as _f:",
              "    SECRET_KEY = _f.read().strip()", ""]
    return "\n".join(lines)


def configure(ctx):
    etc, data = _etc(ctx), _data(ctx)
    for d in (etc, etc / "local", data, data / "sessions", data / "media", data / "uploads"):
        make_dirs(d, mode=0o750)
    (data / "sessions").chmod(0o700)
    if not secret_key_file(ctx).exists():
        atomic_write(secret_key_file(ctx), secrets.token_urlsafe(48), mode=0o600)
    atomic_write(etc / "local" / "__init__.py", "", mode=0o640)
    atomic_write(settings_file(ctx), render_settings(ctx), mode=0o640)


def init(ctx):
    admin = ctx.venv_bin("django-admin")
    ctx.progress(0.1, "collecting static files")
    ctx.run([admin, "collectstatic", "--noinput", "--clear", "-v", "0"], env=_env(ctx),
            timeout=INIT_TIMEOUT)
    ctx.progress(0.4, "compressing CSS and JavaScript")
    ctx.run([admin, "compress", "--force", "-v", "0"], env=_env(ctx), timeout=INIT_TIMEOUT)
    if not (static_root(ctx) / "dashboard" / "manifest.json").exists():
        from stacktui.errors import StackError
        raise StackError("horizon: `compress` left no manifest.json; pages would fail "
                         "with an offline compression error")
    ctx.progress(1.0)


def panes(ctx) -> list[dict]:
    # uwsgi matches static maps against PATH_INFO after --manage-script-name
    # has cut the mount point off, so /dashboard/static/x is looked up as /static/x.
    argv = svckit.uwsgi_argv(ctx, "horizon", "openstack_dashboard.wsgi:application",
                             "--static-map", f"/static={static_root(ctx)}",
                             # Compressed bundles are named by content hash:
                             # a browser may keep them for a month.
                             "--static-expires", r"/static/dashboard/(css|js)/ 2592000",
                             "--offload-threads", "1",
                             # REQUEST_URI, not PATH_INFO: the latter is "/" for
                             # /dashboard/ itself once the mount point is cut off.
                             "--route-uri", f"^/$ redirect-302:{WEBROOT}")
    # Mounted at /dashboard with SCRIPT_NAME stripped, as Apache's
    # WSGIScriptAlias does for DevStack, so Django's URLs match.
    i = argv.index("--module")
    argv[i:i + 2] = ["--mount", f"{WEBROOT.rstrip('/')}=openstack_dashboard.wsgi:application",
                     "--manage-script-name"]
    return [pane_spec(ctx, "horizon", argv, env=_env(ctx),
                      ready={"http": url(ctx) + "auth/login/"}, port=ctx.answers.port("horizon"))]


def cleanup(ctx):
    for d in (_etc(ctx), _data(ctx)):
        shutil.rmtree(d, ignore_errors=True)

def tempest(a, found) -> dict:
    out = {"dashboard": {"dashboard_url": f"http://{a.url_host()}:{a.port('horizon')}/dashboard/"}}
    if "n-api" not in a.services:
        # Tempest's one dashboard test logs in and looks for the Overview
        # panel, which is Nova's: without Nova it would fail for a reason that
        # is no fault of Horizon's (tests/test_e2e_horizon.py covers it).
        out["service_available"] = {"horizon": False}
    return out


SPEC = ServiceSpec(
    "horizon", SERVICES, tempest=tempest, configure=configure, init=init, panes=panes, cleanup=cleanup,
    ready_timeout=READY_TIMEOUT, packages=PACKAGES,
    source_prefix={"horizon": "HORIZON"}, kolla_flags={"horizon": ("enable_horizon",)},
    tempest_available={"horizon": "horizon"})
