"""barbican-api's WSGI entry for uwsgi (``--wsgi-file``), copied into
DEST/etc/barbican by the plugin's configure verb. Barbican's own
``barbican.wsgi.api`` reads /etc/barbican/barbican-api-paste.ini, a path
fixed in its code; this one reads the paste file beside barbican.conf in the
folder the pane's HOME points at. It runs in the stack's venv, so it imports
only what Barbican itself depends on."""

import os

from paste import deploy

application = deploy.loadapp("config:" + os.path.join(os.environ["HOME"], "barbican-api-paste.ini"))
