"""The Django admin is for hub administrators (superusers) only: it shows every store's rows unscoped."""

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig


class HubAdminSite(AdminSite):
    def has_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser


class HubAdminConfig(AdminConfig):
    default_site = "ocbridge.core.admin_site.HubAdminSite"
