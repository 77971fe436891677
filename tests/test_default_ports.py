"""Default ports never clash: a local.conf that enables swift and horizon
(both 8080 once) imports, exports and installs without the user setting a
port. Every service the registry knows, plugins included."""

from collections import defaultdict

from stacktui import catalog, registry


def test_no_two_services_share_a_default_port():
    registry.specs()            # plugins' rows join the catalog
    by_port = defaultdict(list)
    for svc in catalog.SERVICES.values():
        if svc.port is not None:
            by_port[svc.port].append(svc.name)
    clashes = {port: names for port, names in by_port.items() if len(names) > 1}
    assert clashes == {}


def test_swift_keeps_devstacks_port_and_horizon_moves():
    assert catalog.get("s-proxy").port == 8080
    assert catalog.get("horizon").port not in (80, 8080)
