"""Provider balances read from their own APIs (Verimor SMS credits, Netgsm lira, Twilio's account balance), every
half hour for each enabled connection whose client can tell (`client.balance() -> (amount, unit)`). Stored in
core's ProviderBalance; the owner is told when one falls under the store's threshold (core.spend "credit low",
alerts). A reading that fails keeps the last amount and the provider's words."""

from __future__ import annotations

import logging

from ocbridge.core import clock
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.jobs import JobKind, register_job_kind, register_schedule, slot_key
from ocbridge.core.models import Connection, Job, ProviderBalance
from ocbridge.integrations.cod_confirm.providers import CLIENTS, client_class, client_for

log = logging.getLogger(__name__)
EVERY = 1800.0


def readable(service: str) -> bool:
    return service in CLIENTS and hasattr(client_class(service), "balance")


def read(connection: Connection) -> ProviderBalance:
    """Ask the provider once; the row keeps the last good amount when this reading fails."""
    row, _ = ProviderBalance.objects.get_or_create(connection=connection)
    try:
        amount, unit = client_for(connection).balance()
    except (ServiceError, ConfigurationError) as exc:  # the provider's words, or what is wrong in the set-up
        ProviderBalance.objects.filter(pk=row.pk).update(error=(getattr(exc, 'message', '') or str(exc))[:2000])
    else:
        ProviderBalance.objects.filter(pk=row.pk).update(amount=amount, unit=unit, read_at=clock.now(), error="")
    row.refresh_from_db()
    return row


@register_job_kind
class ReadBalances(JobKind):
    kind = "cod_confirm.read_balances"
    routine = True
    max_attempts = 1

    def run(self, job: Job) -> None:
        for conn in Connection.objects.active().filter(store__enabled=True).order_by("pk"):
            if readable(conn.service):
                read(conn)


@register_schedule("cod_confirm.balances", every=EVERY)
def schedule_balances() -> None:
    Job.objects.enqueue(ReadBalances, key=slot_key("cod_confirm:balances", EVERY))
