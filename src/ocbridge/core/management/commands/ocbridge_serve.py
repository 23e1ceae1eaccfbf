"""`ocbridge serve`: the dashboard and webhooks (Django dev server, or gunicorn with --production)."""

import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from ocbridge.core import gunicorn_worker


def gunicorn_args(bind: str, workers: int) -> list[str]:
    """gunicorn's arguments for the hub, without logging. The sync worker, woken alone for each connection where the
    system can (core.gunicorn_worker). A sync worker marks itself alive on a temporary file around every request; on
    a disk-backed /tmp that call can wait on the file system's journal (gunicorn's settings, `worker_tmp_dir`), so the
    file goes on /dev/shm (memory) where there is one."""
    args = ["ocbridge.wsgi:application", "--bind", bind, "--workers", str(workers)]
    if gunicorn_worker.available():
        args += ["--worker-class", f"{gunicorn_worker.__name__}.{gunicorn_worker.ExclusiveSyncWorker.__name__}"]
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        args += ["--worker-tmp-dir", "/dev/shm"]
    return args


class Command(BaseCommand):
    help = "Serve the dashboard and webhook endpoints."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--production", action="store_true", help="run under gunicorn")
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, bind, production, workers, **opts):
        if production:
            os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", *gunicorn_args(bind, workers),
                                       "--access-logfile", "-"])
        call_command("runserver", bind, use_reloader=False, use_threading=True)
