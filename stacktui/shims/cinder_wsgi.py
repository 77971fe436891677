"""Copied by stacktui into DEST/etc/cinder as stacktui_cinder_api.py: cinder's API reading the config file named in the environment."""
import os
import sys

sys.argv = [sys.argv[0], "--config-file", os.environ["STACKTUI_CINDER_CONF"]]

from cinder.wsgi.api import application  # noqa: E402,F401
