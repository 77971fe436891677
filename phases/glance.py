"""Glance (`g-api`): image API on a file store under DEST/data/glance, served
by uwsgi as DevStack does by default (GLANCE_STANDALONE=False).

Then the images, as stack.sh's upload_image loop does: each of `image_urls`
(DevStack's IMAGE_URLS) downloaded and registered public, or by default the
guest image built offline from Debian packages (stacktui/guest_image.py), in
init, beside the other database syncs, so it is ready when glance is.
"""

from __future__ import annotations

import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from stacktui import guest_image, inifile, svckit
from stacktui.errors import StackError
from stacktui.fsutil import make_dirs
from stacktui.phases import verify as checks
from stacktui.service import ConfigFile, ServiceSpec, pane_spec

SERVICES = ("g-api",)
QCOW2_MAGIC = b"QFI\xfb"


def _etc(ctx):
    return ctx.layout.etc / "glance"


def configure(ctx):
    etc, data = _etc(ctx), ctx.layout.data / "glance"
    for d in (etc, data / "images", data / "staging", data / "tasks", data / "locks"):
        make_dirs(d, mode=0o750)
    paste = ctx.layout.venv / "etc" / "glance" / "glance-api-paste.ini"
    svckit.copy_paste_ini(paste, etc / "glance-api-paste.ini", data / "healthcheck_disable")
    inifile.write(etc / "glance-api.conf", {
        "DEFAULT": {"debug": False, "use_stderr": True, "enabled_backends": "fast:file",
                    "worker_self_reference_url": ctx.endpoint("g-api"),
                    # glance-manage's metadefs folder (default /etc/glance/metadefs/):
                    # the JSON files the glance wheel ships into the venv.
                    "metadata_source_path": metadefs_dir(ctx)},
        "database": {"connection": svckit.db_url(ctx.answers, ctx.layout, "glance")},
        "glance_store": {"default_backend": "fast"},
        "fast": {"filesystem_store_datadir": data / "images"},
        "os_glance_staging_store": {"filesystem_store_datadir": data / "staging"},
        "os_glance_tasks_store": {"filesystem_store_datadir": data / "tasks"},
        "keystone_authtoken": svckit.authtoken(ctx.answers, "glance"),
        "paste_deploy": {"flavor": "keystone", "config_file": etc / "glance-api-paste.ini"},
        "oslo_concurrency": {"lock_path": data / "locks"},
        "oslo_policy": svckit.policy_files(etc),
    }, mode=0o640)


def metadefs_dir(ctx):
    return ctx.layout.venv / "etc" / "glance" / "metadefs"


# glance-manage's db_sync, then db_load_metadefs as DevStack's init_glance
# runs it (Horizon's "Update Metadata" and tempest's metadefs tests need the
# definitions; namespaces already loaded are kept), in one interpreter: each
# glance-manage run spends seconds importing glance first.
_SYNC_AND_METADEFS = """\
import sys
from glance.cmd import manage
conf, path = sys.argv[1], sys.argv[2]
for command in (["db_sync"], ["db_load_metadefs", path]):
    sys.argv = ["glance-manage", "--config-file", conf, *command]
    manage.main()
    manage.CONF.clear()
"""


def inputs(answers, phase):
    from stacktui.service import default_inputs
    got = default_inputs(answers, "glance")
    got["images"] = answers.data.get("image_urls")
    got["guest"] = guest_image.BUILD_VERSION
    return got


def init(ctx):
    ctx.run([ctx.venv_bin("python"), "-c", _SYNC_AND_METADEFS, _etc(ctx) / "glance-api.conf",
             metadefs_dir(ctx)])
    for path in image_files(ctx):
        ctx.say(f"glance: image {path.name} ready to register")


def image_files(ctx) -> list[Path]:
    """The images to register: downloaded into DEST/data/images (DevStack's
    $FILES), or the offline guest from the user's cache."""
    urls = ctx.answers.data.get("image_urls")
    if urls is None:
        try:
            return [guest_image.build(log=ctx.say)]
        except StackError as e:
            # A default, not a request: the cloud works without it (DevStack
            # fails here, but its image is one download, not a build).
            ctx.say(f"{e}; no default image registered")
            return []
    out = []
    folder = ctx.layout.data / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for url in urls:
        name = Path(urllib.parse.urlparse(url).path).name or "image"
        dest = folder / name
        if not dest.exists():
            part = dest.with_suffix(dest.suffix + ".part")
            try:
                with urllib.request.urlopen(url, timeout=60) as r, open(part, "wb") as f:
                    shutil.copyfileobj(r, f, 1 << 20)
            except OSError as e:
                part.unlink(missing_ok=True)
                raise StackError(f"image_urls: cannot download {url} ({e}); without internet "
                                 "leave image_urls unset for the offline guest image") from e
            part.rename(dest)
        out.append(dest)
    return out


def panes(ctx) -> list[dict]:
    argv = svckit.uwsgi_argv(ctx, "g-api", "glance.wsgi.api:application",
                             "--http-chunked-input", "--http-raw-body", "--http-auto-chunked")
    return [pane_spec(ctx, "g-api", argv, env={"OS_GLANCE_CONFIG_DIR": str(_etc(ctx))},
                      ready=svckit.http_ready(ctx, "g-api", "/"), port=ctx.answers.port("g-api"))]


def accounts(ctx):
    ks = ctx.keystone()
    ks.service_user("glance", ctx.answers.password("service"))
    ks.endpoints(ks.service("glance", "image", "Glance image service"), ctx.endpoint("g-api"))


def after_start(ctx):
    """Register the images, as DevStack's upload_image does for cirros:
    public, bare, the disk format the file has; looked up by name first."""
    ks = ctx.keystone()
    url = ctx.endpoint("g-api") + "/v2/images"
    made = []
    for path in image_files(ctx):
        name = guest_image.NAME if path.name == f"{guest_image.NAME}.img" else path.stem
        have = ks.s.get(url, params={"name": name}, raise_exc=True).json()["images"]
        if any(i["status"] == "active" for i in have):
            continue
        for stale in have:   # an upload cut short by a failed install
            ks.s.delete(f"{url}/{stale['id']}", raise_exc=False)
        with open(path, "rb") as f:
            fmt = "qcow2" if f.read(4) == QCOW2_MAGIC else "raw"
        body = {"name": name, "disk_format": fmt, "container_format": "bare",
                "visibility": "public"}
        if name == guest_image.NAME:
            body.update(guest_image.image_properties())
        img = ks.s.post(url, json=body, raise_exc=True).json()
        with open(path, "rb") as f:
            ks.s.put(f"{url}/{img['id']}/file", data=f, raise_exc=True,
                     headers={"Content-Type": "application/octet-stream"})
        made.append(f"{name} ({fmt}, {path.stat().st_size >> 20} MiB)")
    if made:
        ctx.say(f"glance: registered {', '.join(made)}")


def cleanup(ctx):
    for d in (_etc(ctx), ctx.layout.data / "glance"):
        shutil.rmtree(d, ignore_errors=True)

def tempest(a, found) -> dict:
    return {"image": {"region": a.region, "endpoint_type": "publicURL", "build_timeout": 120},
            "image-feature-enabled": {
                "api_v2": True,
                # glance-direct through the staging store works; web-download
                # would need the internet, which the tests are not given.
                "import_image": True, "os_glance_reserved": True}}


SPEC = ServiceSpec(
    "glance", SERVICES, tempest=tempest, verify=checks.check_glance,
    configure=configure, init=init, panes=panes, accounts=accounts,
    after_start=after_start, inputs=inputs, cleanup=cleanup,
    databases={"glance": ("glance",)},
    config_files=(ConfigFile("$GLANCE_API_CONF", "glance", "glance-api.conf",
                             "/etc/glance/glance-api.conf", "glance/glance-api.conf"),),
    source_prefix={"glance": "GLANCE"}, port_vars={"g-api": "GLANCE_SERVICE_PORT"},
    kolla_flags={"g-api": ("enable_glance",)},
    tempest_available={"glance": "g-api"}, tempest_scoped={"glance": "g-api"})
