"""local.conf import over a corpus reproducing public local.conf files,
judged by DevStack's own reading of them; round trips answers -> local.conf
-> answers, with devstack-tools (dsconf) as an independent reader."""

from __future__ import annotations

import configparser
import copy
import json
import re
import subprocess
from pathlib import Path

import pytest

from stacktui import answers, catalog, localconf, registry
from stacktui.errors import UserError

from .toolvenv import tools  # noqa: F401  (session fixture)

DATA = Path(__file__).parent / "data" / "localconf"
CORPUS = sorted(p.name for p in DATA.iterdir() if p.suffix not in (".sh", ".json"))
ORACLE = json.loads((DATA / "expected-devstack.json").read_text())
DEPLOYABLE_DEFAULT = catalog.ordered(n for n in catalog.PROFILES["devstack"]
                                     if catalog.get(n).implemented and n not in catalog.LEFT_OUT)
FOUR = {"admin": "secret", "database": "secret", "rabbit": "secret", "service": "secret"}


def imp(name):
    return localconf.import_localconf((DATA / name).read_bytes(), name)


def has(warnings, *parts):
    return any(all(p in w for p in parts) for w in warnings)


def text_import(text):
    return localconf.import_localconf(text, "x.conf")


# ---------------------------------------------------------------- the corpus

def test_corpus_is_big_and_names_its_sources():
    assert len(CORPUS) >= 40
    for name in CORPUS:
        head = (DATA / name).read_bytes()[:400].decode("utf-8", "replace")
        assert head.lstrip("\ufeff").startswith("#"), f"{name}: no source comment"
    assert set(ORACLE) == set(CORPUS)


@pytest.mark.parametrize("name", CORPUS)
def test_service_list_is_devstacks_reading(name):
    """Every name DevStack ends up with is enabled here or named in a
    warning, and nothing is enabled that DevStack's list does not ask for."""
    a, w = imp(name)
    theirs = [n for n in ORACLE[name].split(",") if n]
    ours = a["enabled_services"]
    asked = set()
    for n in theirs:
        m = localconf.ALIASES.get(n, n)
        group = catalog.GROUPS.get(m, ()) if m == "swift" else ()
        for s in (m, *group):
            if s in catalog.SERVICES and catalog.get(s).implemented:
                asked.add(s)
                assert s in ours, f"{n} is enabled for DevStack, not here"
                break
        else:
            assert any(re.search(rf"(^|[ ,(]){re.escape(n)}[:( ,;]", w_.split(": ", 1)[-1])
                       for w_ in w), f"{n}: neither enabled nor explained"
        for r in registry.table("replaces").get(m, ()):
            asked.add(r)
    if a["database"] == "mysql":
        asked.add("mysql")
    assert set(ours) <= asked, set(ours) - asked


@pytest.mark.parametrize("name", CORPUS)
def test_every_import_installs_or_is_refused(name, tmp_path, capsys):
    from stacktui import cli
    out = tmp_path / "a" / "stacktui.yaml"
    try:
        rc = cli.main(["import-localconf", str(DATA / name), "-o", str(out)])
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if rc == 0:
        ans = _load_here(out)
        assert ans.data["enabled_services"]
        for n in ans.data["enabled_services"]:
            assert catalog.get(n).implemented
    else:
        assert rc == 2
        assert not out.exists() and not (out.parent / "secrets.yaml").exists()
        assert re.search(rf"{re.escape(name)}(:\d+)?: ", err)


def _load_here(path):
    """answers.load, minus what only says the file came from another machine."""
    try:
        return answers.load(path)
    except UserError as e:
        hard = [p for p in e.problems if not re.search(
            r"is not an address of this machine|no interface|overlaps this host", p.message)]
        assert not hard, hard
    import yaml
    raw = yaml.safe_load(path.read_text())
    for k in ("host_ip", "public_interface", "fixed_range", "floating_range"):
        raw.pop(k, None)
    return answers.load(None, dest=path.parent / "stack", overrides=raw)


def _ini_multi(path: Path) -> dict:
    out: dict = {}
    section = None
    for line in path.read_text().splitlines():
        m = re.fullmatch(r"\[(.+)\]", line.strip())
        if m:
            section = m.group(1)
            continue
        if "=" in line and section:
            k, v = line.split("=", 1)
            out.setdefault(section, {}).setdefault(k.strip(), []).append(v.strip())
    return out


POSTCONFIG_FILES = [n for n in CORPUS if re.search(rb"^\[\[(post|test)-config\|", (DATA / n).read_bytes(), re.M)]


@pytest.mark.parametrize("name", POSTCONFIG_FILES)
def test_post_config_agrees_with_dsconf(name, tools, tmp_path):
    """dsconf (DevStack's Python reader) extracts each block; the import
    holds the same sections and options, and the same value wherever the
    value has nothing for the shell to expand."""
    a, w = imp(name)
    ours = a.get("post_config", {})
    src = (DATA / name).read_text(encoding="utf-8", errors="replace")
    for phase, target in re.findall(r"^\[\[((?:post|test)-config)\|([^\]]+)\]\]", src, re.M):
        key = localconf._normalise_file(target)
        out = tmp_path / "x.ini"
        out.unlink(missing_ok=True)
        subprocess.run([tools / "bin" / "dsconf", "extract", str(DATA / name), phase, target,
                        str(out)], check=True, capture_output=True)
        theirs = _ini_multi(out) if out.exists() else {}
        theirs = {s: o for s, o in theirs.items() if s}
        if key.startswith("$") and key not in registry.config_files():
            assert key not in ours and has(w, target, "left out")
            continue
        mine = ours.get(key, {})
        for sec, opts in theirs.items():
            for opt, vals in opts.items():
                got = mine.get(sec, {}).get(opt)
                if got is None:
                    assert has(w, opt), f"[{sec}] {opt} dropped without a word"
                    continue
                last = got[-1] if isinstance(got, list) else got
                if not re.search(r'[$\\"`#]|\s\s', vals[-1]):
                    assert last == vals[-1], (sec, opt)
        for sec, opts in mine.items():
            assert set(opts) <= set(theirs.get(sec, {})), (sec, set(opts))


# ---------------------------------------------------------------- the issue's cases

def test_negations_start_from_devstacks_default_list():
    a, w = imp("cinder-negated.conf")
    assert a["enabled_services"] == [s for s in DEPLOYABLE_DEFAULT
                                     if s not in ("horizon", "c-vol", "c-api", "c-sch", "tempest")]
    a, _ = imp("self-reference.conf")
    assert set(DEPLOYABLE_DEFAULT) <= set(a["enabled_services"]) | {"dstat"}


def test_disable_service_with_a_comma_list():
    a, w = imp("disable-comma-list.conf")
    assert not {"c-sch", "c-api", "c-vol", "horizon", "tempest"} & set(a["enabled_services"])
    assert has(w, "disable-comma-list.conf:9: enable_service c-api: it was disabled earlier")


def test_neutron_names():
    a, w = imp("neutron-names-all.conf")
    assert "q-svc" in a["enabled_services"]
    for n in ("neutron-agent", "neutron-dhcp", "neutron-l3", "neutron-metadata-agent"):
        assert has(w, f"{n}: ")
    a, w = imp("neutron-ovn-sample.conf")
    assert "q-svc" in a["enabled_services"]
    for n in ("neutron-segments", "neutron-qos", "q-dns", "q-log"):
        assert has(w, f"{n}: the neutron", "not a process")
    assert not has(w, "not a DevStack service")
    _, w = imp("old-glance-registry.conf")
    assert has(w, "g-reg: the Glance registry was removed")


def test_mysql_password_is_the_database_password():
    a, _ = imp("ds-neutron-compute-mysqlpw.conf")
    assert a["passwords"]["database"] == "dbpass"


@pytest.mark.parametrize("text,line,what", [
    ("[[local|localrc]]\nADMIN_PASSWORD=x\nHOST_IP=$(hostname -I)\n", 3, "command substitution"),
    ("[[local|localrc]]\nHOST_IP=<your ip>\n", 2, "placeholder"),
    ("[[local|localrc]]\nif true; then\nfi\n", 2, "`;`"),
    ("[[local|localrc]]\nX=a b\n", 2, "unquoted space"),
    ("[[local|localrc]]\nX='open\n", 2, "unterminated"),
    ("[[local|localrc]]\nsource ~/other\n", 2, "`source`"),
    ("[[local|localrc]]\n[[post-config\n", 2, "header"),
    ("[[post-config|$NOVA_CONF]]\nno_section = 1\n", 2, "before any [section]"),
    ("stray\n[[local|localrc]]\n", 1, "before the first"),
])
def test_what_bash_cannot_read_is_a_warning_with_its_line(text, line, what):
    a, w = localconf.import_localconf("# c\n" + text, "bad.conf")
    assert has(w, f"bad.conf:{line + 1}: ", what), w
    assert a["enabled_services"]


def test_headers_and_sections_with_comments_bom_and_latin1():
    a, w = imp("ds-config-syslog.conf")
    assert a["post_config"]["$NOVA_CONF"]["DEFAULT"] == {"use_syslog": "True"}
    a, w = imp("bom-latin1.conf")
    assert a["passwords"] == FOUR
    assert w == [w_ for w_ in w if "not UTF-8" in w_ or "default service list" in w_]
    assert has(w, "bom-latin1.conf:3: not UTF-8")


def test_assign_default_expansion():
    a, w = imp("libvirt-lxc-default.conf")
    assert a["virt_driver"] == "qemu"


def test_nesting_bomb_is_refused_fast():
    import time
    t = time.monotonic()
    with pytest.raises(UserError) as e:
        text_import("[[local|localrc]]\nX=" + "${A:-" * 3000 + "x" + "}" * 3000 + "\n")
    assert "nested deeper" in str(e.value) and e.value.problems[0].line == 2
    assert time.monotonic() - t < 0.5


def test_long_multiline_value_is_linear():
    import time
    t = time.monotonic()
    a, _ = text_import('[[local|localrc]]\nADMIN_PASSWORD="' + "x\n" * 8000 + '"\n')
    assert a["passwords"]["admin"].count("\n") == 8000
    assert time.monotonic() - t < 0.5


def test_post_config_as_devstack_merges_it():
    a, w = imp("ds-nova-serial.conf")
    # HOST_IP is unset in localrc: DevStack fills it at merge time, so does install
    assert a["post_config"]["$NOVA_CONF"]["serial_console"]["base_url"] == \
        "ws://${HOST_IP}:6083/ # optional"
    a, _ = imp("ds-neutron-macvtap.conf")
    assert "$Q_PLUGIN_CONF_FILE" in a["post_config"]       # /$Q_PLUGIN_CONF_FILE
    a, _ = imp("repeated-options.conf")
    sp = a["post_config"]["$NEUTRON_CONF"]["service_providers"]["service_provider"]
    assert len(sp) == 2 and sp[0].endswith(":default")
    a, w = imp("postconfig-quotes.conf")
    nova = a["post_config"]["$NOVA_CONF"]
    assert nova["wsgi"]["api_paste_config"] == "${DEST}/etc/api-paste.ini"   # \$ is read away
    assert nova["workarounds"]["note"] == "compute-\\d"
    assert nova["pci"]["alias"] == "{ vendor_id:8086, product_id:154d, device_type:type-PF, name:a1 }"
    assert has(w, "postconfig-quotes.conf:16: alias: DevStack's merge reads the double quotes")
    a, w = imp("test-config.conf")
    assert a["post_config"]["$TEMPEST_CONFIG"]["validation"]["image_ssh_user"] == "cirros"


def test_old_documented_forms_still_read():
    a, w = imp("postconfig.conf")
    assert a["post_config"]["$NOVA_CONF"] == {
        "DEFAULT": {"cpu_allocation_ratio": "16.0", "my_ip": "192.168.42.11"},
        "keystone_authtoken": {"password": "${SERVICE_PASSWORD}"}}
    assert has(w, "postconfig.conf:32:", "$NEUTRON_DHCP_CONF", "left out")
    a, w = imp("references.conf")
    assert a["passwords"] == {"admin": "p@ss w0rd$", "service": "p@ss w0rd$-svc",
                              "database": "db$ecret", "rabbit": 'it\'s "quoted"'}
    a, w = imp("seed-localrc")
    assert has(w, "seed-localrc:9: q-agt", "OVN")


def test_every_retired_name_warns_and_nothing_is_silent():
    text = "[[local|localrc]]\n" + "".join(f"enable_service {n}\n" for n in catalog.RETIRED)
    text += "SOMETHING_ODD=1\nenable_service no-such-thing\n"
    a, w = text_import(text)
    for n in catalog.RETIRED:
        assert has(w, f": {n}: {catalog.RETIRED[n]}"), n
    assert has(w, "SOMETHING_ODD: no stacktui equivalent")
    assert has(w, "no-such-thing: not a DevStack service")


def test_disable_all_then_enable():
    a, _ = text_import("[[local|localrc]]\ndisable_all_services\nenable_service key g-api\n")
    assert a["enabled_services"] == ["key", "g-api"]
    assert a["database"] == "sqlite"


# ---------------------------------------------------------------- export, read back

NASTY = ["it's", 'say "hi"', "$HOME ${PATH}", "`id`", "back\\slash\\", "100% #1 @h:p",
         " sp ", "ü日本", "-n"]


def _full(d):
    out = copy.deepcopy(answers.DEFAULTS)
    out.update(copy.deepcopy(d))
    return out


@pytest.mark.parametrize("name", CORPUS)
def test_round_trip_corpus(name):
    a, _ = imp(name)
    b, w = text_import(localconf.export_localconf(_full(a)))
    assert _full(b) == _full(a)
    assert not [x for x in w if "default service list" not in x]


VALUES = ["plain", "$literal", "a\\b", 'say "hi"', "trail\\", "`id`", "${SERVICE_PASSWORD}",
          "http://${HOST_IP}:6080/", "50%", "a#b"]


def test_export_values_survive_devstacks_merge(tmp_path):
    """Feed the exported lines through the two steps DevStack's
    merge_config_file applies to each of them (bash `read` without -r, then
    eval inside double quotes) and get the values back."""
    d = _full({"post_config": {"$NOVA_CONF": {"s": {f"o{i}": v for i, v in enumerate(VALUES)}}}})
    text = localconf.export_localconf(d)
    lines = [l.split("=", 1)[1].strip() for l in text.splitlines() if re.match(r"o\d+ = ", l)]
    script = ('SERVICE_PASSWORD=SP; HOST_IP=HI; while read a; do eval "v=\\"$a\\""; '
              'printf "%s\\n" "$v"; done')
    r = subprocess.run(["bash", "-c", script], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, check=True)
    want = [v.replace("${SERVICE_PASSWORD}", "SP").replace("${HOST_IP}", "HI") for v in VALUES]
    assert r.stdout.splitlines() == want
    back, _ = text_import(text)
    assert back["post_config"]["$NOVA_CONF"]["s"] == {f"o{i}": v for i, v in enumerate(VALUES)}


def test_export_read_by_dsconf(tools, tmp_path):
    a, _ = imp("repeated-options.conf")
    a["post_config"]["$TEMPEST_CONFIG"] = {"auth": {"use_dynamic_credentials": "True"}}
    a["post_config"]["$Q_PLUGIN_CONF_FILE"] = {"ml2": {"mechanism_drivers": "ovn"}}
    f = tmp_path / "local.conf"
    f.write_text(localconf.export_localconf(_full(a)))
    text = f.read_text()
    assert "[[test-config|$TEMPEST_CONFIG]]" in text
    assert "[[post-config|/$Q_PLUGIN_CONF_FILE]]" in text
    rc = tmp_path / "localrc"
    subprocess.run([tools / "bin" / "dsconf", "extract-localrc", str(f), str(rc)], check=True)
    assert "ADMIN_PASSWORD=secret" in rc.read_text()
    out = tmp_path / "n.ini"
    subprocess.run([tools / "bin" / "dsconf", "extract", str(f), "post-config", "$NEUTRON_CONF",
                    str(out)], check=True)
    assert _ini_multi(out)["service_providers"]["service_provider"][-1].endswith("IPsecVPNDriver")
    assert text.count("service_provider = ") == 2


def test_round_trip_loaded_answers(tmp_path):
    pw = dict(zip(answers.password_kinds(), NASTY))
    ans = answers.load(None, dest=tmp_path / "st", overrides={
        "host_ip": "127.0.0.1", "virt_driver": "kvm", "workers": 3, "region": "R2",
        "ports": {"key": 5001}, "passwords": pw,
        "sources": {"keystone": {"git": "https://example.org/k.git", "branch": "b"},
                    "glance": {"version": "33.0.0"}},
        "post_config": {"$KEYSTONE_CONF": {"token": {"expiration": "60",
                                                     "weird": "$x `y` \\z ${ADMIN_PASSWORD}"}}}})
    text = localconf.export_localconf(ans)
    back, w = text_import(text)
    assert back["passwords"] == pw
    again = answers.load(None, dest=tmp_path / "other", overrides={
        k: v for k, v in back.items() if k != "dest"})
    again.data["dest"] = ans.data["dest"]
    assert again.data == ans.data


@pytest.mark.parametrize("vd", ["auto", "fake", "qemu", "kvm"])
def test_round_trip_virt_driver(vd):
    d = _full({"virt_driver": vd, "database": "sqlite", "enabled_services": ["key"]})
    b, _ = text_import(localconf.export_localconf(d))
    assert b["virt_driver"] == vd and b["database"] == "sqlite" and b["enabled_services"] == ["key"]


def test_configparser_reads_merged_values():
    # sanity: what the import keeps is one line per value (no newline sneaks in)
    a, _ = imp("postconfig-quotes.conf")
    for sec in a["post_config"]["$NOVA_CONF"].values():
        for v in sec.values():
            assert "\n" not in str(v)
    configparser.RawConfigParser()   # the module is used by postconfig


def test_imported_post_config_lands_as_devstack_would(tmp_path):
    """Repeated options stay repeated and ${HOST_IP} becomes this stack's
    address when install merges what the import kept."""
    from stacktui import postconfig
    a, _ = imp("repeated-options.conf")
    b, _ = imp("ds-nova-serial.conf")
    ans = answers.load(None, dest=tmp_path / "st", overrides={"host_ip": "127.0.0.1"})
    f = tmp_path / "neutron.conf"
    postconfig.merge(f, a["post_config"]["$NEUTRON_CONF"], ans)
    assert f.read_text().count("service_provider = VPN:") == 2
    n = tmp_path / "nova.conf"
    postconfig.merge(n, b["post_config"]["$NOVA_CONF"], ans)
    assert "base_url = ws://127.0.0.1:6083/ # optional" in n.read_text()


def test_test_config_lands_after_tempest_conf_is_written(tmp_path):
    from stacktui import paths, tempest_conf
    a, _ = imp("test-config.conf")
    ans = answers.load(None, dest=tmp_path / "st", overrides={
        "host_ip": "127.0.0.1", "enabled_services": ["key", "g-api", "placement-api"],
        "post_config": a["post_config"]})
    path = tempest_conf.write(ans, paths.Layout(ans.dest), {})
    text = path.read_text()
    assert "image_ssh_user = cirros" in text and "run_validation = True" in text


def test_swift_and_c_bak_import_and_export(tmp_path):
    """DevStack's way of turning swift and cinder-backup on, its swift port
    variables, and back out again; the proxy brings memcached when loaded."""
    text = ("[[local|localrc]]\nADMIN_PASSWORD=secret\nenable_service s-proxy s-object "
            "s-container s-account c-bak\nSWIFT_DEFAULT_BIND_PORT=8090\nOBJECT_PORT_BASE=6620\n"
            "SWIFT_HASH=66a3d6b56c1f479c8b4e70ab5c2000f5\nSWIFT_REPLICAS=1\n")
    a, w = text_import(text)
    for s in ("s-proxy", "s-object", "s-container", "s-account", "c-bak"):
        assert s in a["enabled_services"], s
    assert a["ports"]["s-proxy"] == 8090 and a["ports"]["s-object"] == 6620
    assert has(w, "SWIFT_HASH", "swift_hash") and has(w, "SWIFT_REPLICAS", "one replica")
    ans = answers.load(None, dest=tmp_path / "st", overrides={**a, "host_ip": "127.0.0.1"})
    assert "memcached" in ans.services
    out = localconf.export_localconf(ans)
    assert "SWIFT_DEFAULT_BIND_PORT=8090" in out and "OBJECT_PORT_BASE=6620" in out
    back, _ = text_import(out)
    assert {"s-proxy", "c-bak", "memcached"} <= set(back["enabled_services"])
