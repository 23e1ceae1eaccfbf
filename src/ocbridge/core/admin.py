"""Django admin for the core models: read-mostly, secrets never shown (edit them on the dashboard's forms)."""

from django.contrib import admin

from ocbridge.core.models import (
    AuditEntry, Binding, Connection, Exchange, Integration, Job, SideEffect, Store, StoreMember, TwoFactor,
)


@admin.register(StoreMember)
class StoreMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "store", "role", "added_by", "created")
    list_filter = ("role", "store")


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "oc_store_id", "timezone", "country", "enabled")
    exclude = ("secret",)  # encrypted credentials: set through the dashboard's write-only fields
    search_fields = ("name",)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "service", "store", "enabled", "last_ok_at", "last_error_at", "rate_limited_count")
    list_filter = ("service", "enabled")
    exclude = ("secret",)
    readonly_fields = ("webhook_token", "last_ok_at", "last_error_at", "last_error", "rate_limited_count")


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ("kind", "store", "connection", "enabled", "updated")
    list_filter = ("kind", "enabled")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "state", "attempts", "next_run_at", "store", "finished_at")
    list_filter = ("state", "kind")
    search_fields = ("key",)
    readonly_fields = [f.name for f in Job._meta.fields]


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ("id", "created", "service", "direction", "method", "status", "level", "outcome", "order_id")
    list_filter = ("level", "service", "direction", "outcome")
    search_fields = ("key", "event_id")
    readonly_fields = [f.name for f in Exchange._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(SideEffect)
class SideEffectAdmin(admin.ModelAdmin):
    """The outbox (core.outbox): read-only; its states move only by compare-and-set in code."""

    list_display = ("id", "created", "kind", "service", "state", "correlation", "provider_id", "store")
    list_filter = ("state", "kind", "service")
    search_fields = ("key", "provider_id", "correlation")
    readonly_fields = [f.name for f in SideEffect._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Binding)
class BindingAdmin(admin.ModelAdmin):
    list_display = ("connection", "kind", "local_id", "external_id", "last_origin", "synced_at")
    list_filter = ("kind",)
    search_fields = ("local_id", "external_id")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created", "user", "action", "store", "object_type", "object_id", "reason")
    list_filter = ("action",)
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TwoFactor)
class TwoFactorAdmin(admin.ModelAdmin):
    """Two-factor authenticators: deleting one lets a user who lost phone and recovery codes set it up again."""

    list_display = ("user", "confirmed", "created")
    fields = ("user", "confirmed", "created")  # the key and the recovery digests are never shown
    readonly_fields = fields

    def has_add_permission(self, request):
        return False
