"""Project settings with the ozon app installed (until the lead adds it to INSTALLED_APPS for everyone)."""

from ocbridge.settings import *  # noqa: F401,F403
from ocbridge.settings import INSTALLED_APPS

if "ocbridge.integrations.ozon" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "ocbridge.integrations.ozon"]
