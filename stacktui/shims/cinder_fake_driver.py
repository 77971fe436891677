"""Copied by stacktui into DEST/etc/cinder as stacktui_cinder_fake.py: cinder's gate fake driver with each volume's bytes in a sparse file."""
import os
import shutil

from oslo_config import cfg

from cinder.tests.fake_driver import FakeLoggingVolumeDriver


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

    def delete_volume(self, volume):
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
