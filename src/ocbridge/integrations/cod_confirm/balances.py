"""Provider balances read from their own APIs (Verimor SMS credits, Netgsm lira, Twilio's account balance), every
half hour for each enabled connection whose client can tell (`client.balance() -> (amount, unit)`), by a routine
poll per connection (core.polls) that writes only a balance that changed. Stored in
core's ProviderBalance; the owner is told when one falls under the store's threshold (core.spend "credit low",
alerts). A reading that fails keeps the last amount and the provider's words."""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy

from ocbridge.core import clock, polls
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.jobs import JobKind, register_job_kind
from ocbridge.core.models import Connection, Job, ProviderBalance
from ocbridge.core.polls import Target, register_poll
from ocbridge.core.sentences import Sentence, said_data
from ocbridge.integrations.cod_confirm.providers import CLIENTS, client_class, client_for

log = logging.getLogger(__name__)
EVERY = 1800.0
POLL = "cod_confirm.balances"


def readable(service: str) -> bool:
    return service in CLIENTS and hasattr(client_class(service), "balance")


def read(connection: Connection) -> ProviderBalance:
    """Ask the provider once; the row keeps the last good amount when this reading fails."""
    return _read(connection)[0]


def _read(connection: Connection) -> tuple[ProviderBalance, bool]:
    """The reading, and whether it changed what the row says (amount, unit, the provider's words): only then is the
    row written — the time of the last reading is the poll's (`read_at`)."""
    row = ProviderBalance.objects.filter(connection=connection).first()
    try:
        amount, unit = client_for(connection).balance()
    except (ServiceError, ConfigurationError) as exc:  # the provider's words, or what is wrong in the set-up
        # kept as said too (core.sentences): the spending page shows it in each reader's language
        said = said_data(exc, connection.secret_values())
        text = Sentence.from_data(said).english() if said else getattr(exc, "message", "") or str(exc)
        fields = {"error": text[:2000], "error_said": said}
    else:
        fields = {"amount": amount, "unit": unit, "error": "", "error_said": None}
    if row is None:
        row, _ = ProviderBalance.objects.get_or_create(connection=connection)
    if not any(getattr(row, k) != v for k, v in fields.items()):
        return row, False
    if "amount" in fields:
        fields["read_at"] = clock.now()  # when this amount was read (the page shows the poll's later runs)
    ProviderBalance.objects.filter(pk=row.pk).update(**fields)
    row.refresh_from_db()
    return row, True


def read_at(row: ProviderBalance):
    """When the amount shown was last read: the later of the poll's last run (lease store) and the row's time —
    only the row's while the provider refuses (the amount is the last good one)."""
    return row.read_at if row.error else polls.last_read(POLL, polls_key(row.connection_id), row.read_at)


def polls_key(connection_id: int) -> str:
    return f"connection-{connection_id}"


def balance_targets() -> list[Target]:
    return [Target(key=polls_key(c.pk), every=EVERY, store_id=c.store_id)
            for c in Connection.objects.active().filter(store__enabled=True).order_by("pk") if readable(c.service)]


@register_poll(POLL, targets=balance_targets, label=gettext_lazy("Reading the provider account's balance"))
def poll_balance(target: Target) -> bool:
    """A routine poll (core.polls, no Job row): a balance that did not change writes nothing to the hub."""
    conn = Connection.objects.active().filter(pk=int(target.key.removeprefix("connection-")),
                                              store__enabled=True).first()
    if conn is None or not readable(conn.service):  # switched off or deleted since the targets were listed
        return False
    return _read(conn)[1]  # a changed reading keeps its Exchange (the request that told it); a same one, nothing


@register_job_kind
class ReadBalances(JobKind):
    """Readings queued before they became a routine poll (an upgraded hub): every account's balance now."""

    kind = "cod_confirm.read_balances"
    routine = True
    max_attempts = 1

    def run(self, job: Job) -> None:
        polls.run_all(POLL)
