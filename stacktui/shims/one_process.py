"""Run an oslo.service program with one worker in one process.

oslo.service's native-threading backend (nova's default since 2026.2) runs a
service asked for one worker as a cotyledon master that forks that worker:
two processes, each holding the whole of nova's imports (about 125 MB of
RSS each for nova-conductor and nova-scheduler on this host). With
``no_fork=True`` the same launcher runs the service in the main process and
handles SIGTERM itself: what nova-compute always asks for. The pane's
supervisor already restarts a service that dies, which is all the master
added.

Run with the venv's python, as
``python one_process.py /path/to/venv/bin/nova-conductor ARGS...``: the
program's own console script runs unchanged, and ``oslo_service.service.launch``
is wrapped as the program's first import of it finishes (not before: the
program picks its concurrency backend while importing, and importing
oslo.service earlier would pick one for it). Kept as text beside the
service's config (stacktui never imports it).
"""

import importlib.abc
import importlib.util
import runpy
import sys
import threading

TARGET = "oslo_service.service"


def _one_process(module) -> None:
    launch = module.launch

    def launch_one(conf, service, workers=1, *args, **kw):
        if workers not in (None, 1) or args:
            return launch(conf, service, workers, *args, **kw)
        kw["no_fork"] = True
        launched = launch(conf, service, workers, *args, **kw)
        # launch() has run the service's start() and wait(). nova's wait()
        # returns only once it is stopped; neutron-ovn-agent's at once, its
        # work being in threads of its own, and its main() would then end
        # and the interpreter's shutdown refuse its metadata proxy's work.
        # The main thread waits here instead, until the launcher's SIGTERM
        # handler stops the service and exits, as a cotyledon worker waits.
        threading.Event().wait()
        return launched

    module.launch = launch_one


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _one_process(module)

        spec.loader.exec_module = exec_module
        return spec


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: one_process.py PROGRAM [ARGS...]")
    sys.meta_path.insert(0, _AfterImport())
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
