"""The host's package manager: apt on the Debian family (Debian, Ubuntu), dnf
on the RHEL family, chosen from /etc/os-release."""

from __future__ import annotations

from pathlib import Path

from .errors import StackError

RHEL_LIKE = ("rhel", "centos", "rocky", "almalinux", "ol", "fedora")


def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip().strip('"').strip("'")
    return out


def os_release(root: Path = Path("/")) -> dict[str, str]:
    for p in ("etc/os-release", "usr/lib/os-release"):
        try:
            return parse_os_release((root / p).read_text())
        except OSError:
            continue
    return {}


def family(osr: dict[str, str]) -> str:
    """'debian', 'rhel' or '' (unknown)."""
    ids = [osr.get("ID", "")] + osr.get("ID_LIKE", "").split()
    if any(i in ("debian", "ubuntu") for i in ids):
        return "debian"
    if any(i in RHEL_LIKE for i in ids):
        return "rhel"
    return ""


def manager(osr: dict[str, str] | None = None):
    """The module (stacktui.apt or stacktui.dnf) that installs packages here."""
    fam = family(os_release() if osr is None else osr)
    if fam == "debian":
        from . import apt
        return apt
    if fam == "rhel":
        from . import dnf
        return dnf
    return None


def missing(pkgs) -> list[str]:
    """Of the packages (Debian names), those this host lacks, in its own names."""
    if not pkgs:
        return []
    mgr = manager()
    if mgr is None:
        osr = os_release()
        raise StackError(f"stacktui knows apt and dnf, not {osr.get('PRETTY_NAME') or 'this system'}"
                         f": install these packages with your package manager, then rerun: "
                         f"{' '.join(pkgs)}")
    return mgr.missing(pkgs)


def install(ctx, pkgs: list[str]) -> None:
    """``pkgs`` as ``missing`` named them."""
    manager().install(ctx, pkgs)
