"""Copied by stacktui into nova/virt as stacktui_fakevirt.py: nova's fake driver with a node UUID that survives a restart."""
from nova.virt import fake, node


class StableFakeDriver(fake.FakeDriver):
    def get_available_resource(self, nodename):
        res = super().get_available_resource(nodename)
        if res:
            res["uuid"] = node.get_local_node_uuid()
        return res

    def get_nodenames_by_uuid(self, refresh=False):
        return {node.get_local_node_uuid(): n for n in self.get_available_nodes()}
