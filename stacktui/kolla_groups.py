"""Kolla-Ansible's inventory vocabulary: its service groups and the top
groups its all-in-one and multinode inventories wire them onto. Kolla's
names, not stacktui's services (those are in their specs); stacktui/kolla.py
writes an inventory from this when no kolla-ansible is installed here."""

from __future__ import annotations

# Kolla's service groups for what stacktui exports, as its all-in-one and
# multinode inventories wire them onto the top groups; used when no
# kolla-ansible is installed here to take the wiring from.
SERVICE_GROUPS: dict[str, tuple[str, ...]] = {
    "common": ("control", "network", "compute", "storage", "monitoring"),
    "cron": ("common",), "fluentd": ("common",), "kolla_logs": ("common",),
    "kolla_toolbox": ("common",),
    "baremetal": ("control",), "tls-backend": ("control", "network"),
    "hacluster": ("control",), "hacluster-remote": ("compute",),
    "loadbalancer": ("network",), "letsencrypt": ("loadbalancer",),
    "letsencrypt-webserver": ("letsencrypt",), "letsencrypt-lego": ("letsencrypt",),
    "mariadb": ("control",), "rabbitmq": ("control",), "memcached": ("control",),
    "etcd": ("control",), "valkey": ("control",),
    "keystone": ("control",),
    "glance": ("control",), "glance-api": ("glance",),
    "placement": ("control",), "placement-api": ("placement",),
    "nova": ("control",),
    **{g: ("nova",) for g in ("nova-api", "nova-conductor", "nova-metadata",
                               "nova-super-conductor", "nova-novncproxy", "nova-scheduler",
                               "nova-spicehtml5proxy", "nova-compute-ironic",
                               "nova-serialproxy")},
    "neutron": ("network",),
    **{g: ("neutron",) for g in ("neutron-dhcp-agent", "neutron-l3-agent",
                                  "neutron-metadata-agent", "neutron-metering-agent",
                                  "neutron-bgp-dragent", "neutron-ovn-vpn-agent",
                                  "ironic-neutron-agent")},
    **{g: ("control",) for g in ("neutron-server", "neutron-rpc-server",
                                  "neutron-periodic-worker", "neutron-ovn-maintenance-worker")},
    "neutron-ovn-agent": ("compute", "network"),
    "neutron-ovn-metadata-agent": ("compute", "network"),
    "openvswitch": ("network", "compute"),
    "ovn-controller": ("ovn-controller-compute", "ovn-controller-network"),
    "ovn-controller-compute": ("compute",), "ovn-controller-network": ("network",),
    "ovn-database": ("control",),
    **{g: ("ovn-database",) for g in ("ovn-northd", "ovn-nb-db", "ovn-sb-db", "ovn-sb-db-relay")},
    "cinder": ("control",),
    **{g: ("cinder",) for g in ("cinder-api", "cinder-backup", "cinder-scheduler",
                                 "cinder-volume")},
    "cinder-backup-lvm": ("storage",), "cinder-volume-lvm": ("storage",),
    "cinder-backup-multiple": ("cinder", "storage"),
    "cinder-volume-multiple": ("cinder", "storage"),
    "iscsid": ("compute", "storage"), "tgtd": ("storage",), "multipathd": ("compute", "storage"),
    "horizon": ("control",),
    "prometheus": ("monitoring",), "grafana": ("monitoring",),
}
