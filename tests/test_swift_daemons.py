"""swift's background daemons as stacktui configures them, without an
install: the storage servers bring `s-rsync`, every daemon's section is in
its server's file as swift's readconf gives it, and real daemons started
the way their panes start them (one pass, `--once`) read swift.conf from
DEST, not /etc/swift. The DevStack e2e runs them supervised for the length
of a tempest run (tests/test_e2e_devstack.py)."""

from __future__ import annotations

import os
import subprocess

from stacktui import answers
from stacktui.phases import swift, swift_rsync

from .test_postconfig import _swift_readconf, _swift_stack, swift_python  # noqa: F401

LOCAL_CONF = "[[local|localrc]]\nADMIN_PASSWORD=secret\n"


def test_storage_servers_bring_rsync_and_only_they(tmp_path):
    def services(names):
        return answers.load(None, dest=tmp_path / "s", overrides={
            "host_ip": "127.0.0.1", "enabled_services": names}).services
    assert "s-rsync" in services(["key", "mysql", "s-proxy", "s-object", "s-container",
                                  "s-account"])
    assert "s-rsync" not in services(["key", "mysql"])


def test_each_daemon_reads_its_section_and_the_servers_defaults(tmp_path, swift_python):
    ans, layout, _ = _swift_stack(tmp_path, LOCAL_CONF)
    port = ans.port("s-rsync")
    for svc, kind in swift.STORAGE.items():
        conf = swift.server_conf(layout, kind)
        for daemon in swift.DAEMONS[svc]:
            got = _swift_readconf(swift_python, conf, f"{kind}-{daemon}")
            assert got["devices"] == str(swift.devices(layout)) and got["mount_check"] == "false"
            assert got["swift_dir"] == str(swift.etc(layout))
            assert got["log_custom_handlers"] == f"{swift.LOG_MODULE}.console_only"
        rsync = _swift_readconf(swift_python, conf, f"{kind}-replicator")["rsync_module"]
        assert rsync == f"rsync://{{replication_ip}}:{port}/{kind}{{replication_port}}"
    expirer = _swift_readconf(swift_python, swift.server_conf(layout, "object"), "object-expirer")
    assert expirer["internal_client_conf_path"] == str(swift.internal_client_conf(layout))
    assert expirer["dequeue_from_legacy"] == "true"
    # The expirer's internal client is a proxy app without auth, as swift's sample.
    ic = _swift_readconf(swift_python, swift.internal_client_conf(layout), "pipeline:main")
    assert ic["pipeline"].split()[-1] == "proxy-server"


def test_rsyncd_conf_has_devstacks_modules_over_the_device_folder(tmp_path):
    ans = answers.load(None, dest=tmp_path / "s", overrides={
        "host_ip": "127.0.0.1",
        "enabled_services": ["key", "mysql", "s-proxy", "s-object", "s-container", "s-account"],
        "ports": {"s-object": 16613, "s-container": 16611, "s-account": 16612, "s-rsync": 16873}})
    from stacktui.paths import Layout
    text = swift_rsync.render(ans, Layout(ans.dest))
    for module in ("object16613", "container16611", "account16612"):
        assert f"[{module}]" in text
    assert "port = 16873" in text and "address = 127.0.0.1" in text
    assert "use chroot = false" in text
    assert f"path = {swift.devices(Layout(ans.dest))}/" in text


def test_daemons_run_a_pass_reading_swift_conf_from_dest(tmp_path, swift_python):
    """The panes' argv, run once (`--once`): without stacktui's launcher a
    swift daemon reads /etc/swift/swift.conf, which is not there."""
    from stacktui import events
    from stacktui.context import Context
    from stacktui.masking import Masker
    from stacktui.runner import Runner
    ans, layout, _ = _swift_stack(tmp_path, LOCAL_CONF)
    # The stack's venv is swift's here.
    (layout.dest / "venv").symlink_to(swift_python.parent.parent)
    runner = Runner(layout.stack_log, Masker(ans.secret_values))
    try:
        ctx = Context(ans, layout, events.Bus(), runner)
        swift.init(ctx)
        panes = {p["name"]: p for p in swift.panes(ctx)}
    finally:
        runner.close()
    for name, done in (("s-object-replicator", "Object replication complete"),
                       ("s-account-replicator", "0 failures"),
                       ("s-container-auditor", "audit \"once\" mode completed")):
        p = panes[name]
        assert p["argv"][1:3] == ["-m", swift.DAEMON_MODULE]
        r = subprocess.run([*p["argv"], "--once"], cwd=p["cwd"], env={**os.environ, **p["env"]},
                           capture_output=True, text=True, timeout=120)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-3000:]
        assert done in out and "Traceback" not in out, out[-3000:]
