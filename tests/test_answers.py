"""Answers: defaults, validation messages with file:line, exit code 2, nothing written."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from stacktui import answers
from stacktui.errors import UserError

from .conftest import stacktui


def load_text(tmp_path, text: str):
    p = tmp_path / "stacktui.yaml"
    p.write_text(text)
    return answers.load(p)


def problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(UserError) as e:
        load_text(tmp_path, text)
    return [str(p) for p in e.value.problems]


def test_defaults_are_the_minimal_cloud_on_sqlite():
    a = answers.load(None, dest="/tmp/x-stacktui-defaults")
    assert a.services == ["key", "g-api", "placement-api"]
    assert a.data["database"] == "sqlite"
    assert a.data["floating_range"] == "172.24.4.0/24"
    assert a.data["fixed_range"] == "10.0.0.0/22"
    assert a.port("key") == 5000 and a.port("g-api") == 9292 and a.port("placement-api") == 8778
    assert set(a.data["passwords"]) == {"admin", "database", "rabbit", "service"}
    assert all(len(p) >= 32 for p in a.data["passwords"].values())
    assert sorted(a.generated) == ["admin", "database", "rabbit", "service"]


def test_unknown_key_names_the_closest_and_the_line(tmp_path):
    out = problems(tmp_path, "dest: /tmp/a\nhost_ipp: 127.0.0.1\n")
    assert len(out) == 1
    assert "stacktui.yaml:2:1: host_ipp: unknown key" in out[0]
    assert "did you mean `host_ip`?" in out[0]


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    out = problems(tmp_path, "dest: /tmp/a\nports: {key: 5000\nfoo: [\n")
    assert len(out) == 1
    assert "YAML syntax error" in out[0]
    assert ":4:" in out[0] or ":3:" in out[0]


def test_bad_and_overlapping_ranges(tmp_path):
    out = problems(tmp_path, "fixed_range: 10.0.0.0/33\n")
    assert any("fixed_range: not a valid CIDR" in p for p in out)
    out = problems(tmp_path, "fixed_range: 10.1.0.0/16\nfloating_range: 10.1.2.0/24\n")
    assert any("floating_range:" in p and "overlaps fixed_range" in p for p in out)
    assert any(":2:1:" in p for p in out)


def test_host_ip_must_be_on_this_machine(tmp_path):
    out = problems(tmp_path, "host_ip: 203.0.113.77\n")
    assert any("203.0.113.77 is not an address of this machine" in p and "127.0.0.1" in p for p in out)


def test_unknown_service_and_missing_needs(tmp_path):
    out = problems(tmp_path, "enabled_services: [key, g-apii]\n")
    assert any("unknown service 'g-apii'" in p and "did you mean `g-api`?" in p for p in out)
    out = problems(tmp_path, "enabled_services: [g-api]\n")
    assert any("g-api needs key" in p and "add key to enabled_services" in p for p in out)
    out = problems(tmp_path, "enabled_services: [key, n-net]\n")
    assert any("n-net" in p and "Neutron" in p for p in out)


def test_every_problem_reported_at_once(tmp_path):
    out = problems(tmp_path, "service_ip_version: 5\ndatabase: oracle\nports: {key: 70000}\n"
                             "passwords: {admn: x}\n")
    assert len(out) == 4, out


def test_group_names_expand(tmp_path):
    a = load_text(tmp_path, "host_ip: 127.0.0.1\nenabled_services: [keystone, glance, placement-api]\n")
    assert a.services == ["key", "g-api", "placement-api"]


def test_passwords_any_printable_from_secrets_file(tmp_path):
    (tmp_path / "secrets.yaml").write_text(yaml.safe_dump(
        {"passwords": {"admin": "x' \"$y %z #"}}, allow_unicode=True))
    a = load_text(tmp_path, "host_ip: 127.0.0.1\npasswords: {service: 'ü @:/'}\n")
    assert a.password("admin") == "x' \"$y %z #"
    assert a.password("service") == "ü @:/"
    assert sorted(a.generated) == ["database", "rabbit"]


def test_control_characters_refused(tmp_path):
    out = problems(tmp_path, 'passwords: {admin: "a\\tb"}\n')
    assert any("control character" in p for p in out)


def test_generated_passwords_saved_0600_and_reused(tmp_path):
    p = tmp_path / "stacktui.yaml"
    p.write_text("host_ip: 127.0.0.1\n")
    a = answers.load(p)
    answers.save_generated(a)
    sec = tmp_path / "secrets.yaml"
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    b = answers.load(p)
    assert b.data["passwords"] == a.data["passwords"] and not b.generated
    assert "passwords" not in p.read_text()


def test_cli_bad_answers_exit_2_one_line_each_nothing_written(tmp_path):
    dest = tmp_path / "dest"
    p = tmp_path / "stacktui.yaml"
    p.write_text(f"dest: {dest}\nhost_ipp: 1\nenabled_services: [g-api]\nfloating_range: x\n")
    before = sorted(os.listdir(tmp_path))
    r = stacktui("install", "--answers", p, "--yes", check=False)
    assert r.returncode == 2
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 3, r.stderr
    assert all(str(p) in l for l in lines)
    assert not dest.exists()
    assert sorted(os.listdir(tmp_path)) == before


def test_profile_devstack_takes_what_stacktui_deploys(tmp_path):
    a = load_text(tmp_path, "host_ip: 127.0.0.1\nprofile: devstack\n")
    assert {"key", "g-api", "placement-api", "mysql", "rabbit", "n-api", "n-cpu"} <= set(a.services)
    assert "etcd3" in a.services and "dstat" in a.services
    assert a.data["database"] == "mysql"
    out = problems(tmp_path, "profile: everything\n")
    assert any("unknown profile 'everything'" in p for p in out)
    a = load_text(tmp_path, "host_ip: 127.0.0.1\nprofile: devstack\nenabled_services: [key]\n")
    assert a.services == ["key"]           # an explicit list wins


def test_placement_client_is_accepted_as_the_wiring_name_it_is(tmp_path):
    """DevStack's placement-client runs nothing: it is accepted in
    enabled_services and leaves nothing to deploy."""
    from stacktui import answers
    path = tmp_path / "stacktui.yaml"
    path.write_text("enabled_services: [key, g-api, placement-api, placement-client]\n"
                    f"dest: {tmp_path / 'dest'}\nhost_ip: 127.0.0.1\n")
    ans = answers.load(path)
    assert "placement-client" not in ans.services
    assert "placement-api" in ans.services


def test_network_ranges_neutron_cannot_use(tmp_path):
    for value, words in (("127.0.0.0/8", "loopback range"), ("fd00:1::/64", "IPv6 range"),
                         ("10.9.9.9/32", "too small"), ("10.9.9.8/30", "too small"),
                         ("224.0.0.0/24", "multicast"), ("169.254.0.0/16", "link-local")):
        out = problems(tmp_path, f"fixed_range: {value}\n")
        assert any("fixed_range:" in p and words in p for p in out), (value, out)
    try:
        load_text(tmp_path, "fixed_range: 10.9.9.0/29\n")
    except UserError as e:
        assert not [p for p in e.problems if p.key == "fixed_range"]


def test_restart_policy_per_service_and_for_all(tmp_path):
    from stacktui.context import Context, pane_spec
    from stacktui.paths import Layout
    a = load_text(tmp_path, f"dest: {tmp_path / 'd'}\nrestart:\n  all: on-failure\n"
                            "  g-api: never\n  key: {policy: on-failure, backoff: 5}\n")
    assert a.restart == {"all": {"policy": "on-failure", "backoff": 1.0},
                         "g-api": {"policy": "never", "backoff": 1.0},
                         "key": {"policy": "on-failure", "backoff": 5.0}}
    ctx = Context(a, Layout(a.dest), None, None)
    key = pane_spec(ctx, "key", ["true"])
    assert (key["restart"], key["restart_backoff"]) == ("on-failure", 5.0)
    assert pane_spec(ctx, "placement-api", ["true"])["restart_backoff"] == 1.0   # from all
    assert "restart" not in pane_spec(ctx, "g-api", ["true"])                    # never
    # The saved file loads again to the same policies; unset, no key at all.
    b = load_text(tmp_path, a.to_yaml())
    assert b.restart == a.restart
    assert "\nrestart:" not in answers.load(None, dest=tmp_path / "d").to_yaml()


def test_restart_policy_problems_name_line_key_and_fix(tmp_path):
    out = problems(tmp_path, "dest: /tmp/a\nrestart:\n  n-cpuu: on-failure\n  key: always\n"
                             "  g-api: {policy: on-failure, backoff: 0}\n")
    assert len(out) == 3, out
    assert "stacktui.yaml:3:3: restart.n-cpuu: not a service (did you mean `n-cpu`?)" in out[0]
    assert "stacktui.yaml:4:3: restart.key: unknown restart policy 'always' " \
           "(use never or on-failure)" in out[1]
    assert "stacktui.yaml:5:" in out[2] and "restart.g-api.backoff: must be 0.1 to 300 seconds" in out[2]
    out = problems(tmp_path, "restart: on-failure\n")
    assert "restart: must map a service (or all) to never or on-failure" in out[0]
    assert "restart: {all: on-failure}" in out[0]


def test_cli_bad_restart_policy_exit_2(tmp_path):
    p = tmp_path / "stacktui.yaml"
    p.write_text(f"dest: {tmp_path / 'dest'}\nrestart: {{key: sometimes}}\n")
    r = stacktui("install", "--answers", p, "--yes", check=False)
    assert r.returncode == 2
    assert f"{p}:2:" in r.stderr and "restart.key: unknown restart policy 'sometimes'" in r.stderr
    assert not (tmp_path / "dest").exists()
