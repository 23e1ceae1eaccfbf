"""WhatsApp in COD confirmation: our UTILITY template per language, its approval state, and sending an attempt.

One template name for every shop (`TEMPLATE_NAME`), one translation per language (tr, ru, en, ar), created on the
connection's WhatsApp Business Account from the dashboard. Its state per language is a Binding of the connection
(kind `wa_template`, local id = language, external id = Meta's template id, data = status, category, reason),
refreshed by Meta's `message_template_status_update` webhook and by "refresh" on the page. Only an APPROVED
UTILITY translation is sent (whatsapp.md §3). Buttons carry `<attempt key>#<confirm|cancel|agent|pay>`, so a tap
names the exact attempt; `biz_opaque_callback_data` carries the outbox row's correlation number, so a status
names the send even when its answer was lost (core.outbox.match). A `failed` status can overtake the sender's own
record of Meta's answer (`retry_while_sending`).
"""

from __future__ import annotations

import dataclasses

from django.db import transaction
from django.utils.translation import gettext_noop

from ocbridge.core import clock, outbox
from ocbridge.core.choices import SideEffectState
from ocbridge.core.errors import RetryableError, TerminalError
from ocbridge.core.jobs import current_job
from ocbridge.core.models import AuditEntry, Binding, Connection, SideEffect
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.cod_confirm import mappers

TEMPLATE_NAME = "ocbridge_cod_confirm"
# The same message with the customer's address link (cod_confirm.address), for stores that switch it on
# (`whatsapp_address_link`): a template of its own, since Meta reviews a body with its variables.
LINK_TEMPLATE = "ocbridge_cod_confirm_address"
# Meta approves a template with its buttons fixed, so "Pay now by card" (stores that offer paying now, `pay_offer`)
# is a fourth quick-reply button on templates of their own, with and without the address link.
PAY_TEMPLATE = "ocbridge_cod_confirm_pay"
LINK_PAY_TEMPLATE = "ocbridge_cod_confirm_address_pay"
BINDING_KIND = "wa_template"
# A failed status that its message's sender never saw written (retry_while_sending), kept on the outbox row as said.
UNRECORDED_FAILURE = gettext_noop("WhatsApp reported it failed ({detail}); the run sending it was lost before it "
                                  "recorded Meta's answer")
NO_REASON = gettext_noop("no reason given")
LANGUAGES = ("tr", "ru", "en", "ar")
# Button order = index. "pay" comes last so the other three keep their index; with four buttons WhatsApp shows the
# first two and puts the rest under "See all options" (templates/components, Buttons).
ACTIONS = ("confirm", "cancel", "agent", "pay")
EXAMPLES = {"order_number": "10234", "shop_name": "Demo Mağaza", "total": "450.00 TRY"}
LINK_EXAMPLES = {**EXAMPLES, "address_link": "https://hub.example.com/a/12.1xaBfZ:Jq3Zk7"}
# Meta refuses a body that starts or ends with a variable (2388299) and labels over 25 characters (§3).
BODIES = {
    "tr": "Merhaba! {{shop_name}} mağazasından verdiğiniz {{order_number}} numaralı, {{total}} tutarındaki kapıda "
          "ödemeli siparişinizi onaylıyor musunuz? Lütfen aşağıdaki düğmelerden birine dokunun.",
    "ru": "Здравствуйте! Подтвердите, пожалуйста, заказ {{order_number}} в магазине {{shop_name}} на сумму "
          "{{total}} с оплатой при получении. Нажмите одну из кнопок ниже.",
    "en": "Hello! Please confirm your cash on delivery order {{order_number}} from {{shop_name}}, total "
          "{{total}}. Tap one of the buttons below.",
    "ar": "مرحبًا! يرجى تأكيد طلبك رقم {{order_number}} من {{shop_name}} بقيمة {{total}} مع الدفع عند الاستلام. "
          "اضغط على أحد الأزرار أدناه.",
}
LINK_BODIES = {
    "tr": "Merhaba! {{shop_name}} mağazasından verdiğiniz {{order_number}} numaralı, {{total}} tutarındaki kapıda "
          "ödemeli siparişinizi onaylıyor musunuz? Teslimat adresini düzeltmek için: {{address_link}} . Lütfen "
          "aşağıdaki düğmelerden birine dokunun.",
    "ru": "Здравствуйте! Подтвердите, пожалуйста, заказ {{order_number}} в магазине {{shop_name}} на сумму "
          "{{total}} с оплатой при получении. Исправить адрес доставки: {{address_link}} . Нажмите одну из кнопок "
          "ниже.",
    "en": "Hello! Please confirm your cash on delivery order {{order_number}} from {{shop_name}}, total "
          "{{total}}. To correct the delivery address: {{address_link}} . Tap one of the buttons below.",
    "ar": "مرحبًا! يرجى تأكيد طلبك رقم {{order_number}} من {{shop_name}} بقيمة {{total}} مع الدفع عند الاستلام. "
          "لتصحيح عنوان التوصيل: {{address_link}} . اضغط على أحد الأزرار أدناه.",
}
BUTTONS = {
    "tr": ("Onayla", "İptal et", "Temsilciyle görüş"),
    "ru": ("Подтвердить", "Отменить", "Связаться с оператором"),
    "en": ("Confirm", "Cancel order", "Talk to a person"),
    "ar": ("تأكيد", "إلغاء", "التحدث إلى موظف"),
}
PAY_BUTTON = {"tr": "Şimdi kartla öde", "ru": "Оплатить картой сейчас", "en": "Pay now by card",
              "ar": "ادفع الآن بالبطاقة"}
PAY_SENTENCE = {  # added to the body of the pay templates: the button says what it does, the text says what follows
    "tr": "Şimdi kartla ödemek isterseniz \"Şimdi kartla öde\" düğmesine dokunun: size bir ödeme bağlantısı "
          "göndereceğiz.",
    "ru": "Чтобы оплатить заказ картой сейчас, нажмите «Оплатить картой сейчас»: мы пришлём ссылку на оплату.",
    "en": "To pay by card now, tap \"Pay now by card\": we will send you a payment link.",
    "ar": "للدفع بالبطاقة الآن، اضغط على \"ادفع الآن بالبطاقة\" وسنرسل لك رابط الدفع.",
}


@dataclasses.dataclass(frozen=True)
class Template:
    """One of our templates: its body per language, the examples Meta reviews it with, and its buttons' actions."""

    name: str
    bodies: dict[str, str]
    examples: dict[str, str]
    pay: bool = False
    label: str = ""  # how create_templates names it in its result ("" for the plain one)

    @property
    def actions(self) -> tuple[str, ...]:
        return ACTIONS if self.pay else ACTIONS[:3]

    def body(self, lang: str) -> str:
        return f"{self.bodies[lang]} {PAY_SENTENCE[lang]}" if self.pay else self.bodies[lang]

    def buttons(self, lang: str) -> tuple[str, ...]:
        return (*BUTTONS[lang], PAY_BUTTON[lang]) if self.pay else BUTTONS[lang]


TEMPLATES = {t.name: t for t in (
    Template(TEMPLATE_NAME, BODIES, EXAMPLES),
    Template(LINK_TEMPLATE, LINK_BODIES, LINK_EXAMPLES, label="address"),
    Template(PAY_TEMPLATE, BODIES, EXAMPLES, pay=True, label="pay"),
    Template(LINK_PAY_TEMPLATE, LINK_BODIES, LINK_EXAMPLES, pay=True, label="address+pay"),
)}


def template_language(language: str) -> str:
    lang = (language or "")[:2].lower()
    return lang if lang in LANGUAGES else "en"


def retry_while_sending(effect: SideEffect | None, provider_id: str = "", errors: str = "",
                        status: str = "failed", answer_window: float = 0.0) -> None:
    """After a status was applied: if it overtook the sender's own record of Meta's answer (the outbox row is still
    'sending'), a `failed` found nothing to fail (core.outbox.undelivered) and the row would become 'sent' after us and
    count against the store's caps for good; a `sent`/`delivered`/`read` could not name a row the sender then finds
    lost ('unknown'). Come back once the sender has written it: the status job is retried, and what its first run
    did (the next step, the SMS in place of a chat text) is keyed and not repeated.

    On the status job's last try the sender has had minutes to write it: its run died (or hangs) after Meta took
    the message. Giving up would leave the row 'sending', counted against the caps for good (or 'unknown' once the
    sender's job is run again). The status names the message (wamid, our correlation number), so it settles the row:
    `failed` is final, and Meta does not bill a message it failed (whatsapp.md §4, §6) → failed, with that wamid,
    saying its sender never recorded Meta's answer (it no longer counts); any other status → sent (Meta has it; it
    counts as every sent message does; `answer_window`: how long it may still be answered from now, as its sender
    would have set). Nothing is sent again: a sender that wakes finds the row settled."""
    if effect is None or effect.state != SideEffectState.SENDING:
        return
    job = current_job.get()
    if job is not None and job.pk and job.attempts >= job.max_attempts:
        if status == "failed":
            outbox.undelivered_unrecorded(effect, provider_id, Sentence(UNRECORDED_FAILURE, detail=errors or
                                                                        Sentence(NO_REASON)))
        elif provider_id:
            outbox.sent(effect, provider_id, answer_window=answer_window)
        if effect.state != SideEffectState.SENDING:
            return  # settled (or written by the sender meanwhile)
    raise RetryableError("whatsapp", "still_sending", f"{status} status of a message still being sent",
                         retry_after=30)


def customer_wrote(connection: Connection, phone: str, at) -> None:
    """The customer (E.164 `phone`) wrote to this WhatsApp number at `at` (cod_confirm.pay.wrote_at): their chat's
    customer service window runs 24 h from the latest such message (ChatWindow; a redelivered older one moves
    nothing back)."""
    from ocbridge.core.personal_data import phone_key
    from ocbridge.integrations.cod_confirm.models import ChatWindow

    if not phone:
        return
    row, made = ChatWindow.objects.get_or_create(connection=connection, phone=phone_key(phone),
                                                 defaults={"last_message_at": at, "updated": clock.now()})
    if not made:
        ChatWindow.objects.filter(pk=row.pk, last_message_at__lt=at).update(last_message_at=at, updated=clock.now())


def last_wrote(connections, phone: str):
    """(connection id, time) of the customer's latest message to one of these WhatsApp numbers; None if none."""
    from ocbridge.core.personal_data import phone_key
    from ocbridge.integrations.cod_confirm.models import ChatWindow

    row = (ChatWindow.objects.filter(connection__in=connections, phone=phone_key(phone))
           .order_by("-last_message_at").values_list("connection_id", "last_message_at").first()) if phone else None
    return tuple(row) if row else None


def payload(key: str, action: str) -> str:
    return f"{key}#{action}"


def parse_payload(value: str) -> tuple[str, str] | None:
    """(attempt key, action) from a button payload of ours; None for anything else (a label, a stranger's)."""
    key, sep, action = (value or "").rpartition("#")
    if not sep or action not in ACTIONS or not key.startswith("cod_confirm:"):
        return None
    return key, action


def _local_id(name: str, lang: str) -> str:
    """A template translation's Binding local id: the language, prefixed for the link template."""
    return lang if name == TEMPLATE_NAME else f"{name}:{lang}"


def template_states(connection: Connection, name: str = TEMPLATE_NAME) -> dict[str, dict]:
    """language → {"status", "category", "reason", "id"} for one of our templates on this connection."""
    prefix = "" if name == TEMPLATE_NAME else f"{name}:"
    out = {}
    for b in Binding.objects.filter(connection=connection, kind=BINDING_KIND):
        lang = b.local_id[len(prefix):] if b.local_id.startswith(prefix) else None
        if lang in LANGUAGES:
            out[lang] = {**b.data, "id": b.external_id}
    return out


def _approved(connection: Connection, name: str, lang: str) -> dict:
    state = template_states(connection, name).get(lang, {})
    return state if state.get("status") == "APPROVED" and state.get("category", "UTILITY") == "UTILITY" else {}


def wanted_templates(connection: Connection) -> list[str]:
    """Our templates this connection's store uses, most wanted last: the plain one always, the link one when the
    store switched the address link on, the pay ones when it offers paying now."""
    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    integ = Integration.objects.filter(store_id=connection.store_id, kind="cod_confirm").first()
    cfg = CodConfirmConfig.from_settings(integ.settings) if integ is not None else None
    link, pay = bool(cfg and cfg.whatsapp_address_link), bool(cfg and cfg.pay_offer)
    return [TEMPLATE_NAME] + [LINK_TEMPLATE] * link + [PAY_TEMPLATE] * pay + [LINK_PAY_TEMPLATE] * (link and pay)


def send_confirmation(client, c, *, key: str, reference: str, window_minutes: int):
    """Send attempt `key` of confirmation `c` as the most complete of the store's templates approved in its language
    (address link and/or "Pay now" button, else fewer: a typed PAY still works); TerminalError when the plain one is
    not approved in that language either."""
    lang = template_language(c.language)
    params = {"order_number": c.order_label, "shop_name": c.store.name,
              "total": mappers.format_total(c.total, c.currency)}
    wanted = wanted_templates(client.connection)
    name = next((n for n in reversed(wanted) if _approved(client.connection, n, lang)), None)
    if name is None:
        state = template_states(client.connection).get(lang, {})
        raise TerminalError("whatsapp", "template",
                            f"template {TEMPLATE_NAME} ({lang}) is {state.get('status', 'not created')}"
                            + (f" as {state['category']}" if state.get("category") not in (None, "UTILITY") else ""))
    template = TEMPLATES[name]
    if "address_link" in template.examples:
        from ocbridge.integrations.cod_confirm import address

        params = {**params, "address_link": address.url_for(c)}
    return client.send_template(to=c.phone, template=name, language=lang, params=params,
                                button_payloads=[payload(key, a) for a in template.actions], key=key,
                                reference=reference, ttl_seconds=window_minutes * 60)


def create_templates(connection: Connection, user: str) -> list[str]:
    """Submit the languages not yet created (or rejected) of the templates the store uses for review; returns what
    happened, per language (prefixed with the template's label: "address", "pay", "address+pay")."""
    from ocbridge.core.errors import ServiceError
    from ocbridge.core.sentences import words
    from ocbridge.services.whatsapp import WhatsAppClient

    client, done = WhatsAppClient(connection), []
    for name in wanted_templates(connection):
        states, template = template_states(connection, name), TEMPLATES[name]
        label = f"{template.label} " if template.label else ""
        for lang in LANGUAGES:
            if states.get(lang, {}).get("status") not in (None, "REJECTED"):
                continue
            try:
                res = client.create_template(name=name, language=lang, body=template.body(lang),
                                             examples=template.examples, buttons=list(template.buttons(lang)),
                                             key=f"whatsapp:{connection.pk}:template:{_local_id(name, lang)}:"
                                                 f"{clock.now():%Y%m%d%H%M%S}")
            except ServiceError as exc:
                done.append(f"{label}{lang}: {words(exc)}")  # in the reader's language where said
                continue
            record_state(connection, lang, str(res.get("id") or ""), str(res.get("status") or "PENDING"),
                         str(res.get("category") or "UTILITY"), name=name)
            done.append(f"{label}{lang}: {res.get('status', 'PENDING')}")
    AuditEntry.objects.create(created=clock.now(), user=user, action="whatsapp.create_templates",
                              store=connection.store, object_type="connection", object_id=str(connection.pk),
                              data={"result": done})
    return done


def refresh_templates(connection: Connection) -> dict[str, dict]:
    """Ask Meta for the current state of every language (the webhook may have been missed)."""
    from ocbridge.services.whatsapp import WhatsAppClient

    client = WhatsAppClient(connection)
    for name in wanted_templates(connection):
        for t in client.templates(name):
            if t.get("language") in LANGUAGES:
                record_state(connection, t["language"], str(t.get("id") or ""), str(t.get("status") or ""),
                             str(t.get("category") or ""), str(t.get("rejected_reason") or ""), name=name)
    return template_states(connection)


def record_state(connection: Connection, lang: str, template_id: str, status: str, category: str = "",
                 reason: str = "", *, name: str = TEMPLATE_NAME) -> None:
    with transaction.atomic():
        b, _ = Binding.objects.get_or_create(connection=connection, kind=BINDING_KIND, local_id=_local_id(name, lang),
                                             defaults={"external_id": template_id or f"pending-{_local_id(name, lang)}"})
        data = {**b.data, "status": status}
        if category:
            data["category"] = category
        data["reason"] = "" if reason in ("", "NONE") else reason
        b.external_id, b.data, b.synced_at = template_id or b.external_id, data, clock.now()
        b.save()


def apply_template_status(connection: Connection, template_id: str, language: str, status: str, reason: str,
                          name: str = "") -> bool:
    b = Binding.objects.filter(connection=connection, kind=BINDING_KIND, external_id=template_id).first()
    if b is not None:
        name, _sep, lang = b.local_id.rpartition(":")
        name = name or TEMPLATE_NAME
    else:
        lang, name = language, name or TEMPLATE_NAME
    if lang not in LANGUAGES or name not in TEMPLATES:
        return False
    record_state(connection, lang, template_id, status, reason=reason, name=name)
    return True
