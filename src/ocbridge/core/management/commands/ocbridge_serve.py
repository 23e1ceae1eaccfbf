"""`ocbridge serve`: the dashboard and webhooks (Django dev server, or gunicorn with --production)."""

import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the dashboard and webhook endpoints."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--production", action="store_true", help="run under gunicorn")
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, bind, production, workers, **opts):
        if production:
            os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "ocbridge.wsgi:application", "--bind", bind,
                                       "--workers", str(workers), "--access-logfile", "-"])
        call_command("runserver", bind, use_reloader=False, use_threading=True)
