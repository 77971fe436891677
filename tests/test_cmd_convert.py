"""The convert commands run as a user runs them."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from stacktui import answers

DATA = Path(__file__).parent / "data" / "localconf"


def run(*args, cwd):
    env = {**os.environ, "XDG_STATE_HOME": str(Path(cwd) / "state")}
    return subprocess.run([sys.executable, "-m", "stacktui.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=120)


def test_import_writes_answers_and_private_secrets(tmp_path):
    r = run("import-localconf", str(DATA / "seed-localrc"), "-o", "st/stacktui.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "seed-localrc:9: q-agt" in r.stderr
    # DevStack's whole default list is deployed; placement-client is
    # wiring, with nothing to run, and said so.
    assert "default service list stacktui leaves out placement-client (" in r.stderr, r.stderr
    assert not any(f"leaves out {n}" in r.stderr for n in ("n-novnc", "etcd3", "dstat"))
    data = yaml.safe_load((tmp_path / "st" / "stacktui.yaml").read_text())
    assert "passwords" not in data
    assert data["fixed_range"] == "10.0.0.0/24"
    sp = tmp_path / "st" / "secrets.yaml"
    assert stat.S_IMODE(sp.stat().st_mode) == 0o600
    assert yaml.safe_load(sp.read_text())["passwords"]["admin"] == "123456"
    # refuses to overwrite without --force
    r = run("import-localconf", str(DATA / "minimal.conf"), "-o", "st/stacktui.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "already exists" in r.stderr


def test_import_generates_missing_passwords(tmp_path):
    r = run("import-localconf", str(DATA / "negation.conf"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    pw = yaml.safe_load((tmp_path / "secrets.yaml").read_text())["passwords"]
    assert pw["admin"] == "secret" and set(pw) == set(answers.password_kinds())
    assert "DATABASE_PASSWORD" in r.stderr


def test_unreadable_line_is_a_warning_and_the_rest_is_read(tmp_path):
    bad = tmp_path / "local.conf"
    bad.write_text("[[local|localrc]]\nADMIN_PASSWORD=x\n\nHOST_IP=`hostname -i`\n")
    r = run("import-localconf", str(bad), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"{bad}:4: skipped: HOST_IP: command substitution" in r.stderr
    pw = yaml.safe_load((tmp_path / "secrets.yaml").read_text())["passwords"]
    assert pw["admin"] == "x"


def test_answers_every_command_rejects_exit_2_writing_nothing(tmp_path):
    bad = tmp_path / "local.conf"
    bad.write_text("[[local|localrc]]\nSERVICE_IP_VERSION=7\nADMIN_PASSWORD='a\tb'\n"
                   "FLOATING_RANGE=10.0.0.300/24\n")
    r = run("import-localconf", str(bad), cwd=tmp_path)
    assert r.returncode == 2
    assert f"{bad}:2: SERVICE_IP_VERSION: must be 4 or 6" in r.stderr
    assert f"{bad}:3: ADMIN_PASSWORD: " in r.stderr and "control character" in r.stderr
    assert f"{bad}:4: FLOATING_RANGE: not a valid CIDR" in r.stderr
    assert not (tmp_path / "stacktui.yaml").exists() and not (tmp_path / "secrets.yaml").exists()


def test_export_round_trip_through_files(tmp_path):
    r = run("import-localconf", str(DATA / "references.conf"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("export-localconf", "-o", "out.conf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out.conf"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "[[local|localrc]]" in out.read_text()
    r = run("import-localconf", "out.conf", "-o", "again/stacktui.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first = yaml.safe_load((tmp_path / "stacktui.yaml").read_text())
    again = yaml.safe_load((tmp_path / "again" / "stacktui.yaml").read_text())
    for d in (first, again):
        for k, v in answers.DEFAULTS.items():
            d.setdefault(k, v)
    assert again == first
    assert yaml.safe_load((tmp_path / "again" / "secrets.yaml").read_text()) == \
        yaml.safe_load((tmp_path / "secrets.yaml").read_text())


def test_export_to_stdout(tmp_path):
    run("answers", "--template", cwd=tmp_path)
    r = run("export-localconf", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# Written by stacktui")
    assert "enable_service key" in r.stdout


def test_answers_template_loads_back(tmp_path):
    r = run("answers", "--template", "-o", "t/stacktui.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "t" / "stacktui.yaml").read_text()
    for key in answers.DEFAULTS:
        assert f"{key}:" in text
    assert text.count("\n# ") >= len(answers.DEFAULTS)
    sp = tmp_path / "t" / "secrets.yaml"
    assert stat.S_IMODE(sp.stat().st_mode) == 0o600
    ans = answers.load(tmp_path / "t" / "stacktui.yaml")
    assert ans.generated == []          # every password came from secrets.yaml
    assert ans.password("admin") == yaml.safe_load(sp.read_text())["passwords"]["admin"]
    r = run("answers", "--template", "-o", "t/stacktui.yaml", cwd=tmp_path)
    assert r.returncode == 2


def test_export_kolla(tmp_path):
    run("answers", "--template", cwd=tmp_path)
    r = run("export-kolla", "kolla", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for name, mode in (("globals.yml", 0o640), ("passwords.yml", 0o600), ("all-in-one", 0o644)):
        assert stat.S_IMODE((tmp_path / "kolla" / name).stat().st_mode) == mode
    g = yaml.safe_load((tmp_path / "kolla" / "globals.yml").read_text())
    assert g["enable_keystone"] == "yes" and g["enable_nova"] == "no"
    pw = yaml.safe_load((tmp_path / "kolla" / "passwords.yml").read_text())
    sec = yaml.safe_load((tmp_path / "secrets.yaml").read_text())["passwords"]
    assert pw["keystone_admin_password"] == sec["admin"]


HOSTILE = {
    "nesting": ("[[local|localrc]]\nX=" + "${A:-" * 3000 + "x" + "}" * 3000 + "\n", None,
                ":2: expansions nested deeper"),
    "long-value-with-newlines": ('[[local|localrc]]\nADMIN_PASSWORD="' + "x\n" * 8000 + '"\n', None,
                                 ":2: ADMIN_PASSWORD: "),
    "output-is-a-folder": ("[[local|localrc]]\nADMIN_PASSWORD=x\n", ".", "is a folder"),
    "output-under-a-file": ("[[local|localrc]]\nADMIN_PASSWORD=x\n", "local.conf/x.yaml",
                            "is a file, not a folder"),
    "input-is-a-folder": (None, None, "is a folder"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_exits_2_fast_with_one_clear_line(case, tmp_path):
    text, out, what = HOSTILE[case]
    src = tmp_path / "local.conf"
    if text is None:
        src = tmp_path / "adir"
        src.mkdir()
    else:
        src.write_text(text)
    args = ["import-localconf", str(src)] + (["-o", str(tmp_path / out)] if out else [])
    # CPU time, not wall time: the machine running the suite is shared, and
    # the wall clock measures the neighbours as much as the import.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    r = run(*args, cwd=tmp_path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    took = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert time.monotonic() - t < 10
    assert r.returncode == 2, r.stderr
    assert what in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2
    assert took < 1.0, took
    assert not (tmp_path / "stacktui.yaml").exists()


def test_assign_default_form_reads(tmp_path):
    src = tmp_path / "local.conf"
    src.write_text("[[local|localrc]]\nADMIN_PASSWORD=x\nX=${LIBVIRT_TYPE:=lxc}\n")
    r = run("import-localconf", str(src), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert ":3: LIBVIRT_TYPE=lxc is not supported" in r.stderr


def test_import_never_replaces_secrets_in_use(tmp_path):
    run("answers", "--template", "-o", "st/other.yaml", cwd=tmp_path)
    before = yaml.safe_load((tmp_path / "st" / "secrets.yaml").read_text())["passwords"]
    r = run("import-localconf", str(DATA / "ds-minimal.conf"), "-o", "st/stacktui.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "secrets.yaml: already exists" in r.stderr
    assert not (tmp_path / "st" / "stacktui.yaml").exists()
    r = run("import-localconf", str(DATA / "ds-minimal.conf"), "-o", "st/stacktui.yaml",
            "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "already holds a different admin password; kept it" in r.stderr
    assert yaml.safe_load((tmp_path / "st" / "secrets.yaml").read_text())["passwords"] == before


def test_compute_node_file_is_refused_in_one_line(tmp_path):
    r = run("import-localconf", str(DATA / "ds-multinode-compute.conf"), cwd=tmp_path)
    assert r.returncode == 2
    errs = [l for l in r.stderr.splitlines() if "warning" not in l]
    assert len(errs) == 1 and "controller is SERVICE_HOST=192.168.50.11" in errs[0]
