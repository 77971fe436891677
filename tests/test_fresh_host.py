"""A fresh machine: the README's first command works there, and the suite
cannot pass because of what an earlier run left on this one.

- the session's mount namespace hides OpenStack's system folders
  (tests/freshhost.py), proven on a folder of the test's own;
- an install writes nothing outside DEST but the per-user places the README
  lists (tests/hostscan.py compares the host before and after);
- `./install.sh` from a clean home, then a new login shell: the README's
  next commands work verbatim.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import hostscan
from tests.conftest import FRESH_HOST, stacktui, teardown_stack
from tests.stackfix import make_root, port_free

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root here")


def test_the_session_hides_leftovers_in_a_private_namespace(tmp_path):
    """The mechanism the session uses, on a leftover of the test's own: a
    child in its own namespace sees the folder empty and read-only, and the
    host (this process) still sees the file."""
    leftover = tmp_path / "keystone"
    (leftover / "fernet-keys").mkdir(parents=True)
    (leftover / "fernet-keys" / "0").write_text("an earlier experiment's key")
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\nstate_path = /somewhere\n")
    probe = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from tests import freshhost
        hidden = freshhost.mask([Path({str(leftover)!r}), Path({str(conf)!r})])
        assert len(hidden) == 2, hidden
        assert os.listdir({str(leftover)!r}) == [], os.listdir({str(leftover)!r})
        assert open({str(conf)!r}).read() == ""
        try:
            os.mkdir({str(leftover / "fernet-keys")!r})
        except OSError as e:
            print("refused:", e.strerror)
    """)
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "refused: Read-only file system" in r.stdout
    assert (leftover / "fernet-keys" / "0").read_text() == "an earlier experiment's key"
    assert "state_path" in conf.read_text()


def test_this_session_runs_with_the_system_folders_hidden():
    assert FRESH_HOST["why"] == "private mount namespace"
    for path in FRESH_HOST["hidden"]:
        p = Path(path)
        assert (os.listdir(p) == []) if p.is_dir() else (p.read_bytes() == b""), path


def test_an_install_writes_nothing_outside_dest(minimal_stack):
    """The session stack's install, bracketed by a scan of /etc, /var, /opt,
    /usr, /srv, /run and the home folder (uv cache, clouds.yaml, last-stack
    pointer and the bin folder excepted: they are the README's per-user
    places, redirected to a temporary folder by conftest)."""
    assert minimal_stack["host_changes"] == []


@pytest.mark.e2e
def test_install_sh_then_a_new_login_shell(tmp_path):
    """The README's first command from a clean home folder, then its next
    commands pasted into a new login shell. Default services and ports; the
    stack listens on loopback and lives in a temporary DEST (the test may not
    take the machine's address or /opt/stack)."""
    ports = (5000, 9292, 8778)
    if not all(port_free(p) for p in ports):
        pytest.skip(f"the default ports {ports} are not all free here")
    home = tmp_path / "home"
    home.mkdir()
    work = make_root("fresh-install-")
    dest = work / "dest"
    (work / "stacktui.yaml").write_text(f"dest: {dest}\nhost_ip: 127.0.0.1\n")
    # A user's environment: no XDG overrides, the test's caches kept warm.
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "TERM": "dumb", "LANG": "C.UTF-8",
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
           "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip")}
    # No SSL_CERT_FILE: this machine reaches PyPI through a TLS proxy whose
    # CA only /etc/pip.conf names, as a user's would; stacktui hands pip's
    # settings to uv (stacktui/pipconfig.py).
    before = hostscan.snapshot()
    try:
        r = subprocess.run([str(REPO / "install.sh")], cwd=work, env=env, capture_output=True,
                           text=True, timeout=900, stdin=subprocess.DEVNULL)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        assert "stacktui completed in" in out
        assert "Warning" not in out and "deprecated" not in out.lower(), out
        assert (home / ".local" / "bin" / "openstack").resolve() == dest / "venv" / "bin" / "openstack"
        changes = [c for c in hostscan.changes(before, hostscan.snapshot())
                   if not c.split(" ", 1)[1].startswith(str(work))]
        assert changes == []

        login = {"HOME": str(home), "TERM": "dumb", "LANG": "C.UTF-8"}
        token = subprocess.run(["bash", "-lc", "openstack --os-cloud devstack-admin token issue -f value -c id"],
                               env=login, cwd=home, capture_output=True, text=True, timeout=120)
        assert token.returncode == 0, token.stderr
        assert len(token.stdout.strip()) > 20
        rc = subprocess.run(["bash", "-lc", f"source {dest}/openrc admin && openstack service list -f value -c Name"],
                            env=login, cwd=home, capture_output=True, text=True, timeout=120)
        assert rc.returncode == 0, rc.stderr
        assert {"keystone", "glance", "placement"} <= set(rc.stdout.split())
    finally:
        teardown_stack(dest)
        user_env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
        stacktui("--dest", dest, "clean", "--yes", check=False, env={**user_env, "HOME": str(home)})
        subprocess.run(["rm", "-rf", str(work)])
    assert not (home / ".local" / "bin" / "openstack").is_symlink(), "clean leaves the client link"
