"""What COD confirmation adds to the owner's "needs attention" list (ocbridge.core.attention)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import ngettext

from ocbridge.core.alerts import register_waiting
from ocbridge.core.attention import Attention, register_attention
from ocbridge.integrations.cod_confirm.choices import ConfirmationState


@register_attention("cod_confirm.needs_person", order=10)
def needs_person(stores) -> Attention | None:
    """Orders the robot handed over: a person calls, confirms, cancels or corrects the phone."""
    from ocbridge.integrations.cod_confirm.models import Confirmation

    n = Confirmation.objects.filter(store__in=stores, state=ConfirmationState.NEEDS_PERSON).count()
    if not n:
        return None
    return Attention(key="cod_confirm.needs_person", count=n, orders=True,
                     link=reverse("dashboard:confirmations") + "?state=needs_person",
                     text=ngettext("%(n)d COD order needs a person", "%(n)d COD orders need a person", n) % {"n": n})


def waiting_for_a_person(stores, older_than):
    """Orders handed to a person before `older_than` and still waiting (core.alerts: the owner's limit)."""
    from django.db.models import Count, Min

    from ocbridge.integrations.cod_confirm.models import Confirmation

    found = Confirmation.objects.filter(store__in=stores, state=ConfirmationState.NEEDS_PERSON,
                                        updated__lt=older_than).aggregate(n=Count("id"), oldest=Min("updated"))
    return found["n"], found["oldest"]


register_waiting("cod_confirm.needs_person", waiting_for_a_person)
