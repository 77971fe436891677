"""End to end: Cinder on MariaDB and RabbitMQ, for real.

One install (keystone, glance, placement, MariaDB, RabbitMQ, c-api, c-sch,
c-vol) on free loopback ports with passwords made of every character that
breaks naive quoting; then, in order: a volume made with the stack's own
`openstack` CLI reaches `available` and is deleted, a volume made from a
Glance image holds the image's bytes, `stacktui restart
cinder` brings the three panes back with new processes that report up, and
after a simulated reboot (unstack --all, DEST/run emptied) `stacktui up`
brings everything back and a new volume reaches `available`. The backend
is whatever this host allows (the fake driver without device-mapper).

The unit tests at the end need no stack.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from types import SimpleNamespace

import psutil
import pytest
import yaml

from tests.conftest import NASTY, free_ports, stack_processes, stacktui
from tests.stackfix import (installed_stack, mysql_logins_work, osc, osc_json, panes, stack_ports,
                            unstack_all, up_after_reboot, upload_image, utc_now,
                            wait_services_up)

SERVICES = ["mysql", "rabbit", "key", "g-api", "placement-api", "c-api", "c-sch", "c-vol"]
PORTED = ["key", "g-api", "placement-api", "mysql", "rabbit", "c-api"]
CINDER = ["c-api", "c-sch", "c-vol"]
# oslo.messaging cannot carry a `/` in the rabbit password (phases/rabbit.py).
PASSWORDS = {**NASTY, "rabbit": " " + NASTY["rabbit"].replace("/", "") + " % "}


@pytest.fixture(scope="module")
def cinder_stack():
    with installed_stack("e2e-cinder-", {"database": "mysql", "enabled_services": SERVICES,
                                         "passwords": PASSWORDS},
                         ports=stack_ports(PORTED)) as stack:
        print(f"cinder stack installed in {stack['install_seconds']:.1f}s")
        yield stack


def wait_volume(stack, name: str, want: str, timeout=120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = osc(stack, "volume", "show", name, "-f", "json", check=False)
        vol = json.loads(r.stdout) if r.returncode == 0 else None
        status = vol["status"] if vol else "gone"
        if status == want:
            return vol or {}
        if status == "error" or time.monotonic() > deadline:
            raise AssertionError(f"volume {name} is {status}, not {want}: {vol}")
        time.sleep(1)


def wait_volume_services_up(stack, after: str | None = None) -> dict:
    """cinder-scheduler and cinder-volume up and enabled."""
    return wait_services_up(stack, "volume", ("cinder-scheduler", "cinder-volume"), after=after,
                            every=2, enabled=True)


# ------------------------------------------------------------ e2e

def test_install_says_which_backend_and_verifies_a_volume(cinder_stack):
    from stacktui.phases import cinder
    out = cinder_stack["output"]
    kind, _why = cinder.backend()
    name = cinder.backend_name()
    assert f"cinder backend {name}: " in out
    if kind == "fake":
        assert "no device-mapper" in out and cinder.FAKE_DRIVER in out
    assert f"cinder: volume type {name} created" in out
    assert "cinder: cinder-scheduler, cinder-volume up; a 1 GB volume was available" in out
    for pw in PASSWORDS.values():
        assert pw.strip() not in out


def test_catalog_has_block_storage_and_volumev3_with_project_id(cinder_stack):
    eps = osc_json(cinder_stack, "endpoint", "list")
    port = cinder_stack["ports"]["c-api"]
    for kind in ("block-storage", "volumev3"):
        mine = [e for e in eps if e["Service Type"] == kind]
        assert {e["Interface"] for e in mine} == {"public", "internal", "admin"}, eps
        assert all(e["URL"] == f"http://127.0.0.1:{port}/v3/%(project_id)s" for e in mine), mine


def test_volume_reaches_available_and_is_deleted(cinder_stack):
    from stacktui.phases import cinder
    types = {t["Name"] for t in osc_json(cinder_stack, "volume", "type", "list")}
    assert cinder.backend_name() in types
    osc(cinder_stack, "volume", "create", "--size", "1", "e2e-vol-1")
    vol = wait_volume(cinder_stack, "e2e-vol-1", "available")
    assert vol["type"] == cinder.backend_name()
    assert vol["size"] == 1
    osc(cinder_stack, "volume", "delete", "e2e-vol-1")
    wait_volume(cinder_stack, "e2e-vol-1", "gone")


def test_volume_from_image_becomes_available_and_bootable(cinder_stack):
    """An image becomes a volume: qemu-img and the privileged helper run, and
    the backend stores data (LVM, or the fake's sparse files)."""
    from stacktui.phases import cinder
    data = upload_image(cinder_stack, "e2e-image").read_bytes()
    osc(cinder_stack, "volume", "create", "--image", "e2e-image", "--size", "1", "e2e-vol-img")
    vol = wait_volume(cinder_stack, "e2e-vol-img", "available")
    assert str(vol["bootable"]).lower() == "true", vol
    if cinder.backend()[0] == "fake":
        f = cinder_stack["dest"] / "data" / "cinder" / "fake-volumes" / f"volume-{vol['id']}"
        with open(f, "rb") as fh:
            assert fh.read(len(data)) == data
        assert f.stat().st_size == 1 << 30
    osc(cinder_stack, "volume", "delete", "e2e-vol-img")
    wait_volume(cinder_stack, "e2e-vol-img", "gone")
    if cinder.backend()[0] == "fake":
        assert not f.exists()


def test_restart_cinder_group_brings_the_three_back(cinder_stack):
    before = {n: p["pid"] for n, p in panes(cinder_stack).items() if n in CINDER}
    since = utc_now()
    r = stacktui("--dest", cinder_stack["dest"], "restart", "cinder", timeout=300)
    for name in CINDER:
        assert f"{name}: running" in r.stdout
    after = panes(cinder_stack)
    for name in CINDER:
        assert after[name]["state"] == "running"
        assert after[name]["pid"] != before[name]
    # Neither the other services nor the infrastructure moved.
    assert after["key"]["state"] == "running" and after["mysql"]["state"] == "running"
    wait_volume_services_up(cinder_stack, after=since)


def test_simulated_reboot_then_up_makes_a_new_volume(cinder_stack):
    unstack_all(cinder_stack["dest"])
    up_seconds = up_after_reboot(cinder_stack, SERVICES)
    # up returns once c-sch knows c-vol's pool: the first volume is placed
    assert "the scheduler knows pool" in cinder_stack["up_output"], cinder_stack["up_output"]
    wait_volume_services_up(cinder_stack, after=utc_now())
    osc(cinder_stack, "volume", "create", "--size", "1", "e2e-vol-2")
    wait_volume(cinder_stack, "e2e-vol-2", "available")
    rss = {n: (p.get("rss") or 0) / 2**20 for n, p in panes(cinder_stack).items() if n in CINDER}
    print(f"up after simulated reboot: {up_seconds:.1f}s; cinder RSS MB: "
          + ", ".join(f"{n} {v:.0f}" for n, v in rss.items()))
    osc(cinder_stack, "volume", "delete", "e2e-vol-2")
    wait_volume(cinder_stack, "e2e-vol-2", "gone")


def test_cinder_database_user_takes_the_nasty_password(cinder_stack):
    mysql_logins_work(cinder_stack, PASSWORDS["database"], [("cinder", "cinder")],
                      "SELECT COUNT(*) FROM services")


def test_no_secret_in_any_command_line_or_pane_file(cinder_stack):
    dest = cinder_stack["dest"]
    text = (dest / "etc" / "stacktui" / "panes.json").read_text()
    for p in stack_processes(dest):
        try:
            text += " ".join(p.cmdline()) + "\n"
        except psutil.Error:
            continue
    for pw in PASSWORDS.values():
        assert pw.strip() not in text


def test_cinder_conf_is_private(cinder_stack):
    conf = cinder_stack["dest"] / "etc" / "cinder" / "cinder.conf"
    assert conf.stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------------ no stack needed

def _answers(tmp_path, services=("mysql", "rabbit", "key", "c-api", "c-sch", "c-vol")):
    from stacktui import answers as answers_mod
    p = tmp_path / "a.yaml"
    ports = dict(zip(["key", "mysql", "rabbit", "c-api"], free_ports(4)))
    p.write_text(yaml.safe_dump({"dest": str(tmp_path / "dest"), "host_ip": "127.0.0.1",
                                 "database": "mysql", "enabled_services": list(services),
                                 "ports": ports, "passwords": PASSWORDS}, allow_unicode=True))
    return answers_mod.load(p)


def test_device_mapper_detection(tmp_path):
    from stacktui.phases import cinder
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/misc").write_text("183 hw_random\n 58 network_throughput\n")
    assert not cinder.has_device_mapper(str(tmp_path))
    (tmp_path / "proc/misc").write_text("183 hw_random\n236 device-mapper\n")
    assert cinder.has_device_mapper(str(tmp_path))
    (tmp_path / "proc/misc").write_text("")
    (tmp_path / "sys/module/dm_mod").mkdir(parents=True)
    assert cinder.has_device_mapper(str(tmp_path))


@pytest.mark.parametrize("dm", [False, True])
def test_config_follows_the_backend(tmp_path, monkeypatch, dm):
    from stacktui.engine import Context
    from stacktui.paths import Layout
    from stacktui.phases import cinder
    monkeypatch.setattr(cinder, "has_device_mapper", lambda root="/": dm)
    a = _answers(tmp_path)
    ctx = Context(a, Layout(a.dest), None, None)
    conf = cinder.config(ctx)
    name = conf["DEFAULT"]["enabled_backends"]
    assert conf["DEFAULT"]["default_volume_type"] == name
    be = conf[name]
    if dm:
        assert name == "lvmdriver-1" and be["volume_group"] == "stack-volumes-lvmdriver-1"
        assert be["volume_driver"] == cinder.LVM_DRIVER
        assert cinder.reported_name(a) == "lvmdriver-1"
    else:
        assert be["volume_driver"] == cinder.FILE_FAKE_DRIVER
        # The fake driver reports "fake" whatever it is told; the type matches that.
        assert be["volume_backend_name"] == cinder.reported_name(a) == "fake"
    assert conf["DEFAULT"]["transport_url"].startswith("rabbit://stackrabbit:")
    assert conf["database"]["connection"].startswith("mysql+pymysql://cinder:")
    assert "glance_api_servers" not in conf["DEFAULT"]   # no g-api enabled here
    assert conf["nova"]["username"] == "cinder"


def test_before_up_without_lvm_does_nothing(tmp_path, monkeypatch):
    from stacktui.paths import Layout
    from stacktui.phases import cinder
    calls = []
    monkeypatch.setattr(cinder, "_sh", lambda argv, check=True: calls.append(argv))
    a = _answers(tmp_path)
    cinder.before_up(a, Layout(a.dest))          # no backing file: nothing to attach
    assert calls == []


def test_before_up_reattaches_the_loop_file(tmp_path, monkeypatch):
    from stacktui.paths import Layout
    from stacktui.phases import cinder
    calls = []

    def sh(argv, check=True):
        calls.append([str(x) for x in argv])
        out = "/dev/loop7\n" if argv[:2] == ["losetup", "--show"] else ""
        return SimpleNamespace(returncode=0, stdout=out, stderr="")

    monkeypatch.setattr(cinder, "_sh", sh)
    monkeypatch.setattr(cinder, "has_device_mapper", lambda root="/": True)
    a = _answers(tmp_path)
    L = Layout(a.dest)
    f = cinder.backing_file(L)
    f.parent.mkdir(parents=True)
    f.write_bytes(b"")
    cinder.before_up(a, L)
    assert ["losetup", "-j", str(f)] in calls
    assert ["losetup", "--show", "-f", str(f)] in calls
    assert ["vgchange", "-ay", cinder.VG] in calls


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/loop-control")
                    or not shutil.which("losetup"), reason="needs root and loop devices")
def test_loop_file_attached_once_and_detached_for_real(tmp_path, monkeypatch):
    """The loop half of the LVM backend on the real kernel (this host has
    loop devices but no device-mapper): attach is idempotent, before_up
    re-attaches after the device went away (a reboot), cleanup detaches."""
    from stacktui.paths import Layout
    from stacktui.phases import cinder
    real_sh = cinder._sh
    # Only the loop commands run for real; LVM's would need device-mapper.
    monkeypatch.setattr(cinder, "_sh", lambda argv, check=True: real_sh(argv, check)
                        if str(argv[0]) == "losetup" else SimpleNamespace(returncode=0, stdout="",
                                                                          stderr=""))
    monkeypatch.setattr(cinder, "has_device_mapper", lambda root="/": True)
    a = _answers(tmp_path)
    L = Layout(a.dest)
    f = cinder.backing_file(L)
    f.parent.mkdir(parents=True)
    with open(f, "wb") as fh:
        fh.truncate(8 << 20)
    try:
        dev = cinder.attach_loop(f)
        assert dev.startswith("/dev/loop")
        assert cinder.attach_loop(f) == dev == cinder.loop_device(f)
        real_sh(["losetup", "-d", dev])                # what a reboot does
        assert cinder.loop_device(f) is None
        cinder.before_up(a, L)
        assert cinder.loop_device(f)
        cinder.cleanup(SimpleNamespace(layout=L))
        assert cinder.loop_device(f) is None and not f.exists()
    finally:
        d = cinder.loop_device(f) if f.exists() else None
        if d:
            real_sh(["losetup", "-d", d], check=False)
