"""WSGI entry point (gunicorn ocbridge.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

from ocbridge.core.webhook_handler import with_webhooks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
application = with_webhooks(get_wsgi_application())  # webhooks without the dashboard's middleware
# What is loaded by now (Django, every app, their modules) lives as long as the process: kept out of the cyclic
# garbage collector's sweeps, so a full collection looks only at what requests left behind — short pauses in a
# request instead of one that walks ~150,000 objects (order status by phone's tail, bench/lookup.py).
gc.freeze()
