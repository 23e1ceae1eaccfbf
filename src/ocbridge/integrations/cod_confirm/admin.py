"""Read-only admin for confirmations: changes go through the dashboard's audited actions."""

from django.contrib import admin

from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation, Transition


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in Attempt._meta.fields]


class TransitionInline(admin.TabularInline):
    model = Transition
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in Transition._meta.fields]


@admin.register(Confirmation)
class ConfirmationAdmin(admin.ModelAdmin):
    list_display = ("order_label", "store", "state", "phone", "attempts_made", "created", "decided_by")
    list_filter = ("state", "store")
    search_fields = ("order_label", "customer_name", "phone")
    readonly_fields = [f.name for f in Confirmation._meta.fields]
    inlines = [AttemptInline, TransitionInline]

    def has_add_permission(self, request):
        return False
