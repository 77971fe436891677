"""The package-manager choice and the dnf path. dnf itself runs for real:
Debian ships it, so the test builds an RPM with rpmbuild, serves it from a
local repository made with createrepo_c, and installs it into a private
--installroot (there is no RHEL machine here, and the host's own packages
stay dpkg's)."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from stacktui import distro, dnf
from stacktui.errors import StackError
from stacktui.masking import Masker
from stacktui.runner import Runner

OS_RELEASES = {
    'ID=debian\nVERSION_ID="12"\n': "debian",
    'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n': "debian",
    'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n': "rhel",
    'ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\n': "rhel",
    'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\n': "rhel",
    'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="10.0"\n': "rhel",
    'ID=fedora\nVERSION_ID=41\n': "rhel",
    'ID=arch\n': "",
}


@pytest.mark.parametrize("text,fam", OS_RELEASES.items())
def test_family_from_os_release(text, fam):
    assert distro.family(distro.parse_os_release(text)) == fam


def test_manager_follows_the_family():
    assert distro.manager({"ID": "debian"}).__name__ == "stacktui.apt"
    assert distro.manager({"ID": "rocky", "ID_LIKE": "rhel centos fedora"}).__name__ == "stacktui.dnf"
    assert distro.manager({"ID": "arch"}) is None


def test_every_package_a_phase_asks_for_has_a_rhel_name():
    import stacktui.phases as phases
    asked = set()
    for info in pkgutil.iter_modules(phases.__path__):
        mod = importlib.import_module(f"stacktui.phases.{info.name}")
        asked |= set(getattr(mod, "PACKAGES", ()))
    assert asked, "no phase declares PACKAGES: the test would prove nothing"
    names = dnf.rhel_names(sorted(asked))
    assert "qemu-kvm" in names and "libvirt-client" in names or "libvirt-daemon" not in asked
    assert dnf.rhel_names(["libvirt-dev", "python3.11-dev"]) == ["libvirt-devel", "python3.11-devel"]
    with pytest.raises(StackError, match="no RHEL-family name known for the package frob"):
        dnf.rhel_names(["frob"])


SPEC = """\
Name: stacktui-probe
Version: 1.0
Release: 1
Summary: probe package for stacktui's dnf test
License: MIT
BuildArch: noarch
%description
A file, so that an install can be seen.
%install
mkdir -p %{buildroot}/usr/share/stacktui-probe
echo probe > %{buildroot}/usr/share/stacktui-probe/README
%files
/usr/share/stacktui-probe/README
"""


@pytest.fixture
def local_repo(tmp_path):
    for tool in ("dnf", "rpmbuild", "createrepo_c"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (test.sh installs dnf, rpm and createrepo-c)")
    (tmp_path / "probe.spec").write_text(SPEC)
    subprocess.run(["rpmbuild", "--quiet", "--define", f"_topdir {tmp_path / 'build'}", "-bb",
                    str(tmp_path / "probe.spec")], check=True, capture_output=True)
    repo = tmp_path / "repo"
    repo.mkdir()
    for rpm in (tmp_path / "build").rglob("*.rpm"):
        shutil.copy(rpm, repo)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    (tmp_path / "repos.d").mkdir()
    (tmp_path / "repos.d" / "local.repo").write_text(
        f"[local]\nname=local\nbaseurl=file://{repo}\ngpgcheck=0\nenabled=1\n")
    root = tmp_path / "root"
    root.mkdir()
    return SimpleNamespace(root=root, options=(f"--installroot={root}",
                                               f"--setopt=reposdir={tmp_path / 'repos.d'}",
                                               "--releasever=9"))


def _ctx(tmp_path):
    runner = Runner(tmp_path / "stack.log", Masker([]))
    said = []
    return SimpleNamespace(run=lambda argv, **kw: runner.run([str(a) for a in argv], **kw),
                           say=said.append, sudo_password=None, said=said), runner


def test_dnf_installs_from_a_repository_and_then_finds_it_installed(tmp_path, local_repo):
    rpm_root = ("--root", str(local_repo.root))
    assert dnf.missing(["git"], rpm_root) == ["git"]      # nothing in the private rpmdb yet
    ctx, runner = _ctx(tmp_path)
    try:
        assert not dnf.installed("stacktui-probe", rpm_root)
        dnf.install(ctx, ["stacktui-probe"], options=local_repo.options)
    finally:
        runner.close()
    assert (local_repo.root / "usr/share/stacktui-probe/README").read_text() == "probe\n"
    assert dnf.installed("stacktui-probe", rpm_root)
    assert "dnf" in (tmp_path / "stack.log").read_text()


def test_dnf_names_the_missing_packages_and_the_repositories_to_enable(tmp_path, local_repo):
    ctx, runner = _ctx(tmp_path)
    try:
        with pytest.raises(StackError) as e:
            dnf.install(ctx, ["stacktui-probe", "rabbitmq-server"], options=local_repo.options)
    finally:
        runner.close()
    assert "rabbitmq-server" in str(e.value) and "RDO" in str(e.value)
    assert not (local_repo.root / "usr/share/stacktui-probe").exists()     # all or nothing
