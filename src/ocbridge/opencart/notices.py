"""Customer notices for status changes written on the database path, sent by the hub's own mail (core.mail).

OpenCart mails the customer itself when the native API writes the history with notify. The database path fires
no OpenCart code, so when the owner asked to notify the customer and the hub has mail (the store's SMTP connection
or the hub-wide server), `writes.change_status` queues one StatusNotice job per journaled write. The job sends
OpenCart's own "order update" mail (same parts as catalog/language/*/mail/order_edit.php: order id, date added,
the new status in the order's language, the comment) through the outbox, once, and only when the mail was sent
sets `notify` = 1 on the history row the write created — so the shop's admin says "Customer notified: Yes" only
when it is true. A mail whose fate is unknown (the connection broke while handing it over) leaves notify 0.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

from ocbridge.core import mail
from ocbridge.core.choices import SideEffectState
from ocbridge.core.jobkinds import JobKind, register_job_kind
from ocbridge.core.models import Job


def mail_goes(store) -> bool:
    """Whether notifying the customer of a status change really sends a mail: OpenCart's own (native API path) or
    the hub's (database path with mail set up)."""
    from ocbridge.opencart import shop_db

    if store.api_url and store.api_key and shop_db(store).version.api_supported:
        return True
    return mail.settings_for(store) is not None


def queue(store, write_key: str) -> Job | None:
    """The notice for one journaled status write (None: no mail set up, the history keeps notify 0)."""
    if mail.settings_for(store) is None:
        return None
    return Job.objects.enqueue(StatusNotice, key=f"notice:{write_key}", store=store, payload={"write": write_key})


def compose(*, shop_name: str, order_id: int, date_added, status: str, comment: str, lang: str) -> tuple[str, str]:
    """Subject and text of OpenCart's order-update mail, in the order's language."""
    with translation.override(lang or "en"):
        subject = _("%(shop)s - Order Update %(order_id)s") % {"shop": shop_name, "order_id": order_id}
        lines = [_("Order ID:") + f" {order_id}"]
        if date_added:
            lines.append(_("Date Added:") + f" {date_added:%d.%m.%Y}")
        lines += ["", _("Your order has been updated to the following status:"), status]
        if comment:
            lines += ["", _("The comments for your order are:"), comment]
        lines += ["", _("Please reply to this e-mail if you have any questions.")]
    return subject, "\n".join(lines) + "\n"


@register_job_kind
class StatusNotice(JobKind):
    kind = "opencart.status_notice"
    max_attempts = 8

    def run(self, job: Job) -> None:
        from ocbridge import opencart
        from ocbridge.opencart import statuses, writes
        from ocbridge.opencart.models import ShopWrite

        write = ShopWrite.objects.select_related("store").get(key=job.payload["write"])
        if write.marks.get("notified"):
            return
        store = write.store
        shop = opencart.shop_db(store)
        order = opencart.read_order(store, write.order_id)
        if order is None or "@" not in (order.email or ""):
            return  # no address to write to: the history keeps notify 0
        lang = opencart.order_language(store, order) or store.language
        status = statuses.statuses(shop, order.language_id).get(int(write.marks.get("target") or write.request["new"]), "")
        subject, body = compose(shop_name=order.store_name or store.name, order_id=order.order_id,
                                date_added=order.date_added, status=status, comment=write.request.get("comment", ""),
                                lang=lang)
        effect = mail.deliver(f"notice:{write.key}", store=store, to=[order.email], subject=subject, body=body,
                              purpose="opencart.status_notice")
        if effect.state == SideEffectState.SENT:
            writes.mark_notified(write)
