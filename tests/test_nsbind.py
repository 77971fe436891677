"""Mount points for the libvirt panes' binds are made inside their mount
namespace, never on the host (stacktui/nsbind.py).

The chaos run's libvirt stack wrote /var/lib/libvirt/qemu and
/var/log/libvirt/qemu on the host: the panes made missing mount points with
mkdir on the host, another stack's clean removed them (rmdir of a folder that
is a mount point in another namespace succeeds and detaches that mount), and
libvirtd went on writing to the bare host paths. Real namespaces and mounts
here (the tests run as root); each runs in an `unshare` of its own, so no
mount outlives it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from stacktui.paths import Layout
from stacktui.phases import libvirt

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="mount namespaces need root and unshare")

NSBIND = [sys.executable, "-m", "stacktui.nsbind"]


def mounted_in(pid: int, path: Path) -> bool:
    """Whether ``path`` is a mount point in the mount namespace of ``pid``
    (os.path.ismount cannot see a bind within one filesystem)."""
    try:
        text = Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return False
    return any(line.split(" ")[4] == str(path) for line in text.splitlines())


def test_a_missing_mount_point_is_made_in_the_namespace_only(tmp_path):
    host = tmp_path / "host" / "lib"
    (host / "sub").mkdir(parents=True)
    (host / "file").write_text("orig\n")
    (host / "link").symlink_to("file")
    os.mkfifo(host / "fifo")
    src = tmp_path / "src"
    src.mkdir()
    target = host / "libvirt" / "qemu"
    probe = ("ls -A {h}; cat {h}/link; cat {h}/sub/mounted; echo state > {t}/x; "
             "echo more >> {h}/file; mkdir {h}/sub/made").format(h=host, t=target)
    # A submount of an entry (as /run/netns holds) must be seen through the cover too.
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec",
                        f'mount -t tmpfs t {host}/sub; echo sub > {host}/sub/mounted; exec "$@"',
                        "ns", *NSBIND, str(src), str(target), "--", "sh", "-ec", probe],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    seen = r.stdout.split()
    assert {"file", "link", "fifo", "sub", "libvirt"} <= set(seen), seen
    assert "orig" in seen and "sub" in seen
    # The daemon's write landed in DEST, the host's folder gained nothing ...
    assert (src / "x").read_text() == "state\n"
    assert sorted(os.listdir(host)) == ["fifo", "file", "link", "sub"]
    # ... and what it wrote to the host's own entries went through.
    assert (host / "file").read_text() == "orig\nmore\n"
    assert not (host / "sub" / "made").exists()     # that was on the submount


def test_the_host_cannot_remove_a_mount_point_from_under_the_daemon(tmp_path):
    """What the chaos run hit: with the old script, `rmdir` of the host's
    empty mount point (another stack's clean) detached the bind."""
    host = tmp_path / "var_lib"
    host.mkdir()
    src = tmp_path / "dest_lib"
    src.mkdir()
    target = host / "libvirt"
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", *NSBIND,
                          str(src), str(target), "--", "sleep", "30"],
                         stderr=subprocess.PIPE, text=True)
    try:
        root = Path(f"/proc/{p.pid}/root")
        deadline = time.monotonic() + 20
        while not mounted_in(p.pid, target):
            assert p.poll() is None, p.stderr.read()
            assert time.monotonic() < deadline, "the bind never appeared"
            time.sleep(0.1)
        assert not target.exists(), "the mount point was made on the host"
        (src / "qemu").mkdir()
        assert (Path(f"{root}{target}") / "qemu").is_dir()
    finally:
        p.kill()
        p.wait()


def test_a_target_under_a_covered_folder_needs_no_second_cover(tmp_path):
    host = tmp_path / "run"
    host.mkdir()
    (host / "keep").write_text("k")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    probe = f"grep -c ' {host}' /proc/self/mountinfo; ls -A {host}"
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", *NSBIND,
                        str(a), str(host / "libvirt"), str(b), str(host / "openvswitch"),
                        "--", "sh", "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    # One tmpfs, the bound-back entry, two binds.
    assert lines[0] == "4", r.stdout
    assert sorted(lines[1:]) == ["keep", "libvirt", "openvswitch"]
    assert sorted(os.listdir(host)) == ["keep"]


def test_bad_arguments_say_what_is_wrong():
    r = subprocess.run([*NSBIND, "/nonexistent-src", "/tmp/x", "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "/nonexistent-src is missing" in r.stderr
    r = subprocess.run([*NSBIND, "/a"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "usage" in r.stderr


def _layout(tmp_path) -> Layout:
    layout = Layout(tmp_path / "dest")
    for target, src in libvirt.binds(layout).items():
        if target in ("/etc/passwd", "/etc/group"):
            src.parent.mkdir(parents=True, exist_ok=True)
            # configure's copy, with the qemu user the host lacks
            src.write_text(Path(target).read_text() + "libvirt-qemu:x:64055:64055::/:/bin/false\n")
        else:
            src.mkdir(parents=True, exist_ok=True)
    return layout


@pytest.mark.skipif(not shutil.which("tini"), reason="the libvirt panes run under tini")
def test_libvirt_panes_make_nothing_on_the_host(tmp_path, monkeypatch):
    layout = _layout(tmp_path)
    # The real places may exist on this machine (another stack's made them,
    # or a system libvirt): one that surely does not exist is added.
    absent = tmp_path / "host_var_lib" / "libvirt-absent"
    absent.parent.mkdir()
    real = libvirt.binds
    monkeypatch.setattr(libvirt, "binds", lambda layout, answers=None: {
        **real(layout, answers), str(absent): layout.data / "libvirt" / "lib"})
    targets = [t for t in libvirt.binds(layout) if t.startswith(("/var", "/run", "/etc/libvirt",
                                                                 str(tmp_path)))]
    before = {t: os.path.lexists(t) for t in targets}
    # What libvirtd's qemu driver does first: its state folders.
    daemon = ["sh", "-ec", "mkdir -p /var/lib/libvirt/qemu/channel /var/log/libvirt/qemu "
              "/var/cache/libvirt/qemu /run/libvirt/qemu; grep -q libvirt-qemu /etc/passwd; "
              f"touch /etc/libvirt/probe; test -e {absent}/qemu"]
    r = subprocess.run(libvirt.ns_argv(layout, daemon), capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PATH": libvirt.PATH})
    made = [t for t in targets if not before[t] and os.path.lexists(t)]
    for t in made:      # the old script's leftovers, so a failure here leaves nothing
        shutil.rmtree(t, ignore_errors=True)
    assert r.returncode == 0, r.stderr
    assert not made, f"made on the host: {made}"
    assert (layout.etc / "libvirt" / "probe").exists()
    assert (layout.data / "libvirt" / "lib" / "qemu" / "channel").is_dir()
    assert (layout.logs / "libvirt" / "qemu").is_dir()
    assert (layout.run / "libvirt" / "qemu").is_dir()


def test_clean_keeps_an_old_mount_point_another_namespace_uses(tmp_path):
    """Stacks made by older versions recorded the mount points they made;
    clean removes one only when no namespace has something mounted there."""
    layout = _layout(tmp_path)
    shared = tmp_path / "var_lib_libvirt"
    shared.mkdir()
    libvirt.made_dirs_file(layout).write_text(f"{shared}\n")
    other = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                              f"mount -t tmpfs t {shared} && exec sleep 30"])
    try:
        deadline = time.monotonic() + 20
        while not mounted_in(other.pid, shared):
            assert other.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        libvirt.cleanup(SimpleNamespace(layout=layout))
        assert shared.is_dir(), "removed while another namespace had it mounted"
    finally:
        other.kill()
        other.wait()
    layout = _layout(tmp_path)
    libvirt.made_dirs_file(layout).write_text(f"{shared}\n")
    libvirt.cleanup(SimpleNamespace(layout=layout))
    assert not shared.exists()
