"""Copied by stacktui into DEST/etc/cinder as stacktui_cinder_fake.py: cinder's gate fake driver with each volume's bytes in a sparse file.

Attachments are real: the gate fake answers every attach with an iSCSI
connection that names no target, which only bookkeeping survives (nova's
libvirt driver hands it to os-brick, whose iSCSI connector wants a portal,
an initiator name and the kernel's iSCSI initiator; a host without
device-mapper has no kernel iSCSI either). Here each attachment gets a loop
device over the volume's file, given to the consumer as a `local` block
device: nova's libvirt driver puts it in the guest as is, and os-brick's
local connector (c-bak, image uploads) opens it the same way.
"""
import os
import shutil
import sys

from oslo_config import cfg

from cinder import utils
from cinder.tests.fake_driver import FakeLoggingVolumeDriver


def _root(*argv, **kw):
    # The gate fake's own _execute only logs; these commands must run. When
    # c-vol is not root they go through this venv's cinder-rootwrap by its
    # path: cinder's default helper names a bare `cinder-rootwrap`, which
    # sudo's secure_path never finds in a venv.
    helper = "sudo -n %s %s" % (os.path.join(os.path.dirname(sys.executable), "cinder-rootwrap"),
                                cfg.CONF.rootwrap_config)
    return utils.execute(*argv, run_as_root=True, root_helper=helper, **kw)


class FileBackedFakeDriver(FakeLoggingVolumeDriver):
    def _dir(self):
        d = os.path.join(cfg.CONF.state_path, "fake-volumes")
        os.makedirs(d, exist_ok=True)
        return d

    def local_path(self, volume, vg=None):
        return os.path.join(self._dir(), volume["name"])

    def _size(self, volume, gigabytes):
        with open(self.local_path(volume), "ab") as f:
            f.truncate(int(gigabytes) << 30)

    def create_volume(self, volume):
        self._size(volume, volume["size"])
        return super().create_volume(volume)

    def _loops(self, volume):
        """Loop devices over the volume's file (`losetup -j`)."""
        out, _ = _root("losetup", "-j", self.local_path(volume))
        return [line.split(":", 1)[0] for line in out.splitlines() if line.startswith("/dev/")]

    def validate_connector(self, connector):
        # The LVM parent asks its iSCSI target for the consumer's initiator
        # name (which os-brick reads from /etc/iscsi/initiatorname.iscsi, a
        # file open-iscsi's package writes); a loop device on this host needs
        # nothing from the consumer.
        pass

    def initialize_connection(self, volume, connector):
        data = dict(super().initialize_connection(volume, connector)["data"])
        loops = self._loops(volume)
        if loops:
            data["device_path"] = loops[0]
        else:
            out, _ = _root("losetup", "--show", "-f", self.local_path(volume))
            data["device_path"] = out.strip()
        return {"driver_volume_type": "local", "data": data}

    def terminate_connection(self, volume, connector, **kwargs):
        # A device another attachment still holds open (multiattach) is only
        # marked: the kernel frees it when the last user closes it.
        for dev in self._loops(volume):
            _root("losetup", "-d", dev, check_exit_code=False)

    def delete_volume(self, volume):
        if os.path.exists(self.local_path(volume)):
            self.terminate_connection(volume, None)
        try:
            os.unlink(self.local_path(volume))
        except FileNotFoundError:
            pass

    def extend_volume(self, volume, new_size):
        self._size(volume, new_size)

    def copy_image_to_volume(self, context, volume, image_service, image_id, **kw):
        # qemu-img writes a new file of the image's size: back to the volume's.
        super().copy_image_to_volume(context, volume, image_service, image_id, **kw)
        self._size(volume, volume["size"])

    def create_cloned_volume(self, volume, src_vref):
        shutil.copyfile(self.local_path(src_vref), self.local_path(volume))
        self._size(volume, volume["size"])

    def create_volume_from_snapshot(self, volume, snapshot):
        self._size(volume, volume["size"])
