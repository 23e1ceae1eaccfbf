"""Project settings with order_lookup installed, until the lead adds it to INSTALLED_APPS.

Run: DJANGO_SETTINGS_MODULE=order_lookup_settings PYTHONPATH=tests/integrations/order_lookup pytest tests/integrations/order_lookup
"""

from ocbridge.settings import *  # noqa: F403

if "ocbridge.integrations.order_lookup" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "ocbridge.integrations.order_lookup"]  # noqa: F405
