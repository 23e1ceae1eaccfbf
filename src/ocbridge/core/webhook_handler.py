"""Providers' webhooks (/hooks/…) through Django with only the middleware a provider's request needs.

A provider's request carries no cookie, no session and no browser language, and the webhook view authenticates by its
URL token (exempt from CSRF). The dashboard's middleware — sessions, the user and two-factor, CSRF, messages, the
language from Accept-Language, frame options — does nothing for it but costs time: 7 % of an order-status call's
CPU, a live caller waiting (bench/lookup.py). Security (HTTPS redirect, HSTS) and Common (allowed hosts, URL
normalising) stay, in the order settings.MIDDLEWARE gives them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

PREFIX = "/hooks/"  # ocbridge/urls.py: the one webhook view
KEEP = ("django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware")


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler with the middleware of settings.MIDDLEWARE that a webhook needs (KEEP)."""

    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE alone: swapped while it builds (at start-up, one thread).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = [path for path in full if path in KEEP]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def with_webhooks(site):
    """A WSGI application: /hooks/… through WebhookHandler, every other path through `site` (the dashboard's)."""
    hooks = WebhookHandler()

    def application(environ, start_response):
        handler = hooks if environ.get("PATH_INFO", "").startswith(PREFIX) else site
        return handler(environ, start_response)

    return application
