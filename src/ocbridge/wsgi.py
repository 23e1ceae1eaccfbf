"""WSGI entry point (gunicorn ocbridge.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
application = get_wsgi_application()
