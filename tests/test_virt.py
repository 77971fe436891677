"""The virt driver choice (stacktui/virt.py) and what it writes, without an
install: `virt_driver: qemu` gives libvirt with virt_type=qemu and the
libvirt daemons; fake keeps nova's fake driver and no daemon; auto follows
the probes, and the choice is shown by the host check and the CLI.

The probes are real where the answer matters on this machine (the KVM ioctl,
the namespace probe); the matrix test passes probe results in, because a
host without /dev/kvm, or one that refuses namespaces, cannot be made here.
"""

from __future__ import annotations

import configparser
import json
import os
import sys

import pytest
import yaml

from stacktui import answers as answers_mod
from stacktui import catalog, events, virt
from stacktui.engine import Context
from stacktui.masking import Masker
from stacktui.paths import Layout
from stacktui.runner import Runner
from tests.conftest import stacktui

NOVA = ["key", "g-api", "placement-api", "n-api", "n-cond", "n-sch", "n-cpu", "rabbit"]


def load(tmp_path, **extra):
    path = tmp_path / "stacktui.yaml"
    path.write_text(yaml.safe_dump({"dest": str(tmp_path / "dest"), "host_ip": "127.0.0.1",
                                    "database": "mysql", "enabled_services": NOVA, **extra}))
    return answers_mod.load(path), path


def nova_conf(tmp_path, ans) -> configparser.ConfigParser:
    from stacktui import inifile
    from stacktui.phases import nova
    layout = Layout(ans.dest)
    runner = Runner(tmp_path / "log", Masker(ans.secret_values))
    ctx = Context(ans, layout, events.Bus(), runner)
    out = tmp_path / "nova.conf"
    inifile.write(out, {k: v for k, v in nova.config(ctx).items() if v is not None})
    runner.close()
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(out)
    return conf


def test_choice_matrix():
    c = virt.choose("auto", kvm_version=12, blocker=None, probe=False)
    assert (c.libvirt, c.virt_type) == (True, "kvm") and "KVM API 12" in c.why
    c = virt.choose("auto", kvm_version=None, blocker=None, probe=False)
    assert (c.libvirt, c.virt_type) == (True, "qemu") and "software emulation" in c.why
    c = virt.choose("auto", kvm_version=12, blocker="no namespaces", probe=False)
    assert not c.libvirt and "no namespaces" in c.why and "fake" in c.why
    c = virt.choose("qemu", kvm_version=12, blocker=None, probe=False)
    assert (c.libvirt, c.virt_type) == (True, "qemu") and "in the answers" in c.why
    c = virt.choose("fake", kvm_version=12, blocker=None, probe=False)
    assert not c.libvirt and c.label == "fake"


def test_qemu_override_writes_virt_type_qemu(tmp_path):
    ans, _ = load(tmp_path, virt_driver="qemu")
    assert {"virtlogd", "libvirtd"} <= set(ans.services)
    conf = nova_conf(tmp_path, ans)
    assert conf["DEFAULT"]["compute_driver"] == "libvirt.LibvirtDriver"
    assert conf["libvirt"]["virt_type"] == "qemu"
    assert conf["libvirt"]["connection_uri"] == \
        f"qemu:///system?socket={tmp_path / 'dest' / 'run' / 'libvirt' / 'libvirt-sock'}"
    assert conf["libvirt"]["cpu_mode"] == "none"
    if os.geteuid() == 0:
        assert conf["nova_sys_admin"]["helper_command"].split()[0].endswith("privsep-helper")
    from stacktui.phases import install, prerequisites
    assert "libvirt-python" in install.needed_projects(ans) and not install.skipped(ans)
    assert {"libvirt-daemon", "qemu-system-x86", "libvirt-dev", "tini"} <= \
        set(prerequisites.packages(ans))


def test_fake_stays_fake_without_libvirt(tmp_path):
    # libvirtd listed by hand goes too: it exists only for n-cpu on libvirt.
    ans, _ = load(tmp_path, virt_driver="fake", enabled_services=NOVA + ["libvirtd"])
    assert not set(catalog.LIBVIRT_DAEMONS) & set(ans.services)
    conf = nova_conf(tmp_path, ans)
    assert conf["DEFAULT"]["compute_driver"] == "stacktui_fakevirt.StableFakeDriver"
    assert not conf.has_section("libvirt") and not conf.has_section("nova_sys_admin")
    from stacktui.phases import install
    assert install.skipped(ans) == {"libvirt-python"}


def test_no_n_cpu_no_daemons(tmp_path):
    ans, _ = load(tmp_path, enabled_services=["key", "g-api", "placement-api"], database="sqlite")
    assert not set(catalog.LIBVIRT_DAEMONS) & set(ans.services)


@pytest.mark.skipif(not virt.kvm_works() or virt.libvirt_blocker() is not None,
                    reason="needs a host where /dev/kvm answers and libvirt can run")
def test_auto_on_this_host_is_kvm_and_the_check_says_so(tmp_path):
    """kvm, unless this host's KVM was found to stop a Linux kernel (the
    probe's answer, kept per host boot): then qemu."""
    want = "qemu" if virt.kvm_boots_linux() is False else "kvm"
    ans, path = load(tmp_path)
    assert virt.for_answers(ans).label == f"libvirt/{want}"
    conf = nova_conf(tmp_path, ans)
    assert conf["libvirt"]["virt_type"] == want
    r = stacktui("check", "--answers", path, "--json", check=False)
    got = json.loads(r.stdout)
    checks = got["checks"] if isinstance(got, dict) else got
    v = next(c for c in checks if c["name"] == "virtualization")
    assert f"nova-compute on libvirt/{want}" in v["measured"]
    assert "/dev/kvm answers KVM API 12" in v["measured"]


def test_qemu_override_shows_in_the_check(tmp_path):
    _, path = load(tmp_path, virt_driver="qemu")
    r = stacktui("check", "--answers", path, "--json", check=False)
    got = json.loads(r.stdout)
    checks = got["checks"] if isinstance(got, dict) else got
    v = next(c for c in checks if c["name"] == "virtualization")
    assert "nova-compute on libvirt/qemu: virt_driver is qemu in the answers" in v["measured"]


def test_export_localconf_names_no_libvirt_daemon(tmp_path):
    from stacktui.localconf import export_localconf
    ans, _ = load(tmp_path, virt_driver="kvm")
    text = export_localconf(ans)
    assert "VIRT_DRIVER=libvirt" in text and "LIBVIRT_TYPE=kvm" in text
    assert "enable_service n-cpu" in text
    assert "libvirtd" not in text and "virtlogd" not in text


def test_auto_plugs_guests_into_the_userspace_switch_through_the_stack_namespace(monkeypatch):
    """With q-svc on the userspace datapath (no openvswitch module), libvirt
    runs in the switch's namespace (stacktui/netns.py), so auto picks libvirt;
    only without the tools that namespace needs does it stay on the fake
    driver, and says why."""
    from stacktui import virt
    both = ["n-cpu", "q-svc"]
    c = virt.choose("auto", kvm_version=12, blocker=None, probe=False, services=both,
                    ovs_module=False)
    assert c.libvirt and c.virt_type == "kvm"
    real_which = virt.shutil.which
    monkeypatch.setattr(virt.shutil, "which", lambda t: None if t == "nsenter" else real_which(t))
    c = virt.choose("auto", kvm_version=12, blocker=None, probe=False, services=both,
                    ovs_module=False)
    assert not c.libvirt and "nsenter" in c.why
    assert virt.choose("auto", kvm_version=12, blocker=None, probe=False, services=["n-cpu"],
                       ovs_module=False).virt_type == "kvm"
    forced = virt.choose("kvm", kvm_version=12, blocker=None, probe=False, services=both,
                         ovs_module=False)
    assert forced.libvirt and "will fail to boot" in forced.why


def test_auto_takes_qemu_where_kvm_answers_but_stops_a_kernel(monkeypatch):
    """/dev/kvm may answer the API and run a boot sector, yet stop a Linux
    kernel (this machine): the probe's answer turns auto to qemu, says why,
    and an explicit kvm answer still wins."""
    from stacktui import virt
    monkeypatch.setattr(virt, "kvm_api_version", lambda path="/dev/kvm": 12)
    monkeypatch.setattr(virt, "libvirt_blocker", lambda: None)
    monkeypatch.setattr(virt, "kvm_boots_linux", lambda run=False: False)
    c = virt.choose("auto", services=["n-cpu"])
    assert c.virt_type == "qemu" and "does not boot under it" in c.why
    assert virt.choose("kvm", services=["n-cpu"]).virt_type == "kvm"
    monkeypatch.setattr(virt, "kvm_boots_linux", lambda run=False: None)
    assert virt.choose("auto", services=["n-cpu"]).virt_type == "kvm"


def test_kvm_probe_answer_is_kept_per_host_boot(tmp_path, monkeypatch):
    """The probe's answer is read back while the host has not rebooted, and
    not after (another boot id)."""
    import json
    from stacktui import virt
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    f = virt._probe_file()
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps({"boot_id": virt._boot_id(), "boots": False}))
    assert virt.kvm_boots_linux() is False
    f.write_text(json.dumps({"boot_id": "another-boot", "boots": False}))
    assert virt.kvm_boots_linux() is None
