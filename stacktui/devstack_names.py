"""DevStack's own service vocabulary, as stackrc, functions-common and
lib/neutron spell it: the default service list, the prefixes
is_service_enabled matches, neutron's long names and service plugins, and
names DevStack retired. These are DevStack's tables, not stacktui's: what a
service stacktui deploys is, the service's spec says (stacktui/service.py);
local.conf import (stacktui/localconf.py) reads a file through these."""

from __future__ import annotations


def is_enabled(enabled: str, svc: str) -> bool:
    """functions-common's is_service_enabled on a comma-separated list."""
    e = "," + enabled + ","
    if "," + svc + "," in e:
        return True
    prefix = {"nova": "n-", "glance": "g-", "neutron": "q-", "trove": "tr-", "swift": "s-",
              "cinder": "c-"}.get(svc)
    if prefix and ("," + prefix) in "," + enabled:
        return True
    if svc == "neutron" and ",neutron-" in "," + enabled:
        return True
    return svc.startswith("s-") and ",swift" in "," + enabled


GROUP_PREFIX = {"nova": "n-", "glance": "g-", "cinder": "c-", "neutron": "q-", "trove": "tr-"}
# Bare names that DevStack's is_service_enabled answers for every service of
# their prefix: `enable_service swift` turns on s-proxy, s-object ... there.
ENABLES_PREFIX = {"swift": "s-"}

# Names DevStack's lib/neutron accepts beside the q-* ones, and other names
# that stand for a service stacktui knows under its DevStack short name.
ALIASES = {"neutron-api": "q-svc", "neutron-agent": "q-agt", "neutron-dhcp": "q-dhcp",
           "neutron-l3": "q-l3", "neutron-metadata-agent": "q-meta",
           "neutron-ovn-agent": "q-ovn-agent",
           "neutron-ovn-metadata-agent": "q-ovn-metadata-agent"}
# Neutron service plugins DevStack turns on by name; none is a process of
# its own, so nothing is lost when stacktui leaves the name out.
NEUTRON_EXTENSIONS = {
    "q-qos": "qos", "neutron-qos": "qos", "q-trunk": "trunk", "neutron-trunk": "trunk",
    "q-dns": "dns", "neutron-dns": "dns", "q-log": "log", "neutron-log": "log",
    "q-segments": "segments", "neutron-segments": "segments", "q-metering": "metering",
    "neutron-metering": "metering", "q-placement": "placement", "neutron-placement": "placement",
    "q-port-forwarding": "port_forwarding", "neutron-port-forwarding": "port_forwarding",
    "q-network-segment-range": "network_segment_range",
    "neutron-network-segment-range": "network_segment_range",
    "q-tag-ports-during-bulk-creation": "tag_ports_during_bulk_creation",
}
EXTRA_RETIRED = {
    "g-reg": "the Glance registry was removed (Queens); g-api serves images alone",
    "q-ovn-metadata-agent": "the OVN metadata agent is folded into q-ovn-agent",
}

# stackrc's default ENABLED_SERVICES, in its order: order matters when a
# file appends without a leading comma (ENABLED_SERVICES+=octavia glues
# "dstatoctavia", and DevStack loses dstat).
DEVSTACK_DEFAULT = ("key,n-api,n-cpu,n-cond,n-sch,n-novnc,n-api-meta,placement-api,"
                    "placement-client,g-api,c-sch,c-api,c-vol,ovn-controller,ovn-northd,"
                    "ovs-vswitchd,ovsdb-server,q-svc,q-ovn-agent,horizon,rabbit,tempest,mysql,"
                    "etcd3,dstat")
