"""URL wiring only."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from ocbridge.core.webhooks import webhook

urlpatterns = [
    path("admin/", admin.site.urls),
    path("hooks/<str:service>/<str:token>/<str:hook>", webhook, name="webhook"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("ocbridge.dashboard.urls")),
]
for app in ("order_lookup", "ozon"):
    if f"ocbridge.integrations.{app}" in settings.INSTALLED_APPS:
        urlpatterns.insert(0, path(f"{app.replace('_', '-')}/", include(f"ocbridge.integrations.{app}.urls")))
