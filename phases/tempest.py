"""Tempest (`tempest`): OpenStack's own test suite, in a venv of its own.

Its requirements must not move the services' pins, so it gets DEST/data/
tempest/venv from a lock of its own (stacktui/data/locks/tempest.txt). init
builds that venv and the stestr workspace; accounts, which runs after every
other service is up, writes tempest.conf for exactly the services enabled,
with the image, flavors and networks those services now have.
`stacktui verify --tempest` runs it.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from importlib import resources
from pathlib import Path

from stacktui import tempest_conf
from stacktui.errors import StackError
from stacktui.service import ConfigFile, ServiceSpec, default_inputs

SERVICES = ("tempest",)


def lock_file() -> Path:
    return Path(str(resources.files("stacktui") / "data" / "locks" / "tempest.txt"))


def inputs(answers, phase):
    got = default_inputs(answers, "tempest")
    # tempest.conf names every service (available or not) and their ports.
    got["all_services"] = answers.services
    got["all_ports"] = dict(sorted(answers.ports.items()))
    got["fixed_range"] = answers.fixed_range
    got["lock"] = hashlib.sha256(lock_file().read_bytes()).hexdigest()
    return got


def tempest_bin(layout) -> Path:
    return tempest_conf.venv(layout) / "bin" / "tempest"


def install(layout, run) -> None:
    """The venv from the lock; ``run(argv, env)`` executes a command (the
    engine's PTY runner during install, a plain one for `stacktui verify`)."""
    from stacktui import pipconfig
    from stacktui.phases.install import uv
    venv = tempest_conf.venv(layout)
    py = venv / "bin" / "python"
    env = pipconfig.uv_env()
    if not py.exists():
        run([uv(), "venv", "-q", "--python", sys.executable, venv], env)
    run([uv(), "pip", "install", "--python", py, "--no-deps", "--compile-bytecode", "-q",
         "-r", lock_file()], env)
    make_workspace(layout)


def make_workspace(layout) -> Path:
    """What `tempest init` makes, minus its seconds of imports: the stestr
    config that points test discovery at the installed tempest package."""
    ws = tempest_conf.workspace(layout)
    ws.mkdir(parents=True, exist_ok=True)
    site = next(tempest_conf.venv(layout).glob("lib/python3*/site-packages"))
    (ws / ".stestr.conf").write_text(
        "[DEFAULT]\n"
        f"test_path={site / 'tempest' / 'test_discover'}\n"
        f"top_dir={site}\n"
        "group_regex=([^\\.]*\\.)*\n")
    return ws


def configure(ctx):
    root = tempest_conf.root(ctx.layout)
    for d in (root, root / "logs", root / "locks"):
        d.mkdir(parents=True, exist_ok=True)


def init(ctx):
    install(ctx.layout, lambda argv, env: ctx.run(argv, env=env, timeout=1800))
    if not tempest_bin(ctx.layout).exists():
        raise StackError(f"tempest is not in {tempest_conf.venv(ctx.layout)} after install")


def discover(answers) -> dict:
    """Values tempest.conf needs that exist only once the services run."""
    found: dict = {}
    svcs = answers.services
    if not any(s in svcs for s in ("n-api", "q-svc", "c-api")):
        return found
    from stacktui.phases.verify import admin_session
    from types import SimpleNamespace
    ctx = SimpleNamespace(answers=answers,
                          endpoint=lambda s: f"http://{answers.url_host()}:{answers.port(s)}")
    sess = admin_session(ctx)
    region = answers.region

    def get(stype, path):
        return sess.get(path, endpoint_filter={"service_type": stype, "region_name": region},
                        raise_exc=True).json()
    if "n-api" in svcs:
        # Public only: tempest's servers boot in projects it makes for each
        # test class, which cannot see an admin's private image.
        images = get("image", "/v2/images?status=active&visibility=public")["images"]
        if not images:
            images = [upload_blank_image(sess, region)]
        images.sort(key=lambda i: ("cirros" not in i["name"].lower(), i["name"]))
        if images:
            found["image_ref"] = images[0]["id"]
            found["image_ref_alt"] = images[1]["id"] if len(images) > 1 else images[0]["id"]
            # Who logs in (DevStack's DEFAULT_INSTANCE_USER): the image's own
            # os_admin_user, which glance gives as a top-level property.
            alt = images[1] if len(images) > 1 else images[0]
            found["image_ssh_user"] = login_user(images[0])
            found["image_alt_ssh_user"] = login_user(alt)
        flavors = sorted(get("compute", "/flavors/detail")["flavors"], key=lambda f: f["ram"])
        if flavors:
            found["flavor_ref"] = flavors[0]["id"]
            found["flavor_ref_alt"] = flavors[1]["id"] if len(flavors) > 1 else flavors[0]["id"]
        from stacktui import virt
        # What nova-compute really runs (auto may land on either), not the answer.
        found["virt_driver"] = "libvirt" if virt.for_answers(answers).libvirt else "fake"
    if "q-svc" in svcs:
        nets = get("network", "/v2.0/networks?router:external=true")["networks"]
        if nets:
            found["public_network_id"] = nets[0]["id"]
        # DevStack's way for api_extensions=all: the list neutron has. Left at
        # "all", tempest expects extensions ML2/OVN does not load (metering).
        exts = get("network", "/v2.0/extensions")["extensions"]
        found["network_extensions"] = ",".join(sorted(e["alias"] for e in exts))
    return found


def login_user(image: dict) -> str:
    """Who logs into a guest of ``image``: its os_admin_user, else `cirros`
    for a CirrOS image (DevStack's DEFAULT_INSTANCE_USER), else unknown."""
    return image.get("os_admin_user") or ("cirros" if "cirros" in image.get("name", "").lower()
                                          else "")


BLANK_IMAGE = "stacktui-tempest-blank"


def upload_blank_image(sess, region: str) -> dict:
    """DevStack uploads CirrOS from the internet for tempest's servers; this
    host may have none. Tempest's smoke tests only wait for ACTIVE (no SSH:
    run_validation is off), which a blank raw disk reaches with the fake
    driver and with qemu alike; it has no os_admin_user, so tempest.conf
    turns SSH validation off with it."""
    g = {"service_type": "image", "region_name": region}
    img = sess.post("/v2/images", endpoint_filter=g, raise_exc=True,
                    json={"name": BLANK_IMAGE, "disk_format": "raw", "container_format": "bare",
                          "visibility": "public", "min_disk": 0, "min_ram": 0}).json()
    sess.put(f"/v2/images/{img['id']}/file", endpoint_filter=g, raise_exc=True,
             data=b"\0" * (1 << 20), headers={"Content-Type": "application/octet-stream"})
    return img


def accounts(ctx):
    # The services may not be up yet (the engine starts them after every
    # service's accounts), so the ids of images, flavors and networks are
    # filled in by `stacktui verify --tempest`, which rewrites this file.
    found = {}
    try:
        found = discover(ctx.answers)
    except Exception:  # noqa: BLE001 - not running yet: verify looks again
        pass
    path = tempest_conf.write(ctx.answers, ctx.layout, found)
    ctx.say(f"tempest: {path} written for {', '.join(ctx.answers.services)}")


def cleanup(ctx):
    shutil.rmtree(tempest_conf.root(ctx.layout), ignore_errors=True)
    shutil.rmtree(tempest_conf.conf_path(ctx.layout).parent, ignore_errors=True)


# The scenario tests ping guests' floating IPs from this host before they
# SSH in (DevStack's hosts have ping; a minimal Debian has none).
PACKAGES = ("iputils-ping",)

SPEC = ServiceSpec(
    "tempest", SERVICES, configure=configure, init=init, accounts=accounts, cleanup=cleanup,
    inputs=inputs, packages=PACKAGES,
    config_files=(ConfigFile("$TEMPEST_CONFIG", "tempest", None,
                             "/opt/stack/tempest/etc/tempest.conf"),),
    source_prefix={"tempest": "TEMPEST"},
    kolla_notes={"tempest": "Kolla-Ansible does not run Tempest; run it from a client machine"})
