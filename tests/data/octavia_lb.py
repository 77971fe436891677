"""Run by the stack's own Python (openstacksdk) from tests/test_e2e_octavia.py:
one process for every API call of the load-balancer test, since each
`openstack` CLI call costs seconds just to start.

`ports NAME...`: a port on `private` for each NAME (no port security: the
test's namespaces are not guests with security groups), printed as JSON.
`lb MEMBER_IP...`: load balancer, TCP listener on 80, pool and a member on
8080 per address, each waited for until ACTIVE; prints the VIP and statuses.
`delete`: the load balancer (cascade) and the ports.
"""

import json
import sys

import openstack

conn = openstack.connect()
net = conn.network.find_network("private", ignore_missing=False)
subnet = conn.network.find_subnet("private-subnet", ignore_missing=False)
lbs = conn.load_balancer
cmd, args = sys.argv[1], sys.argv[2:]


def wait(lb, timeout=180):
    return lbs.wait_for_load_balancer(lb.id, status="ACTIVE", failures=["ERROR"], interval=1,
                                      wait=timeout)


if cmd == "ports":
    out = {}
    for name in args:
        p = conn.network.create_port(network_id=net.id, name=f"e2e-oct-{name}",
                                     port_security_enabled=False)
        out[name] = {"id": p.id, "mac": p.mac_address, "ip": p.fixed_ips[0]["ip_address"]}
    print(json.dumps({"ports": out, "cidr": subnet.cidr, "gateway": subnet.gateway_ip,
                      "mtu": net.mtu}))
elif cmd == "lb":
    lb = lbs.create_load_balancer(name="e2e-lb", vip_subnet_id=subnet.id, provider="ovn")
    wait(lb)
    lis = lbs.create_listener(name="e2e-l", protocol="TCP", protocol_port=80, load_balancer_id=lb.id)
    wait(lb)
    pool = lbs.create_pool(name="e2e-p", protocol="TCP", lb_algorithm="SOURCE_IP_PORT",
                           listener_id=lis.id)
    wait(lb)
    for ip in args:
        lbs.create_member(pool, address=ip, protocol_port=8080, subnet_id=subnet.id)
        wait(lb)
    lb = lbs.get_load_balancer(lb.id)
    print(json.dumps({
        "vip": lb.vip_address, "lb": [lb.provisioning_status, lb.operating_status],
        "listener": lbs.get_listener(lis.id).provisioning_status,
        "pool": lbs.get_pool(pool.id).provisioning_status,
        "members": [m.provisioning_status for m in lbs.members(pool)]}))
elif cmd == "delete":
    lb = lbs.find_load_balancer("e2e-lb")
    if lb:
        lbs.delete_load_balancer(lb, cascade=True)
    for p in conn.network.ports(network_id=net.id):
        if p.name.startswith("e2e-oct-"):
            conn.network.delete_port(p)
