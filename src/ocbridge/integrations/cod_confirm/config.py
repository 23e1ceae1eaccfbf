"""`CodConfirmConfig`: the settings of one Store's cod_confirm Integration, with the defaults shop owners expect."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal

PLACEHOLDERS = ("name", "order_id", "total", "shop", "items", "address_link")
WEEKDAYS = ("0", "1", "2", "3", "4", "5", "6")  # Monday = 0, as datetime.weekday()


def _every_day() -> dict[str, list[str] | None]:
    return {d: ["09:00", "21:00"] for d in WEEKDAYS}


def _call_texts() -> dict[str, str]:
    return {
        "tr": "Merhaba {name}. {shop} mağazasından verdiğiniz {order_id} numaralı, {total} tutarındaki kapıda ödemeli "
              "siparişinizi onaylamak için 1'e, iptal etmek için 2'ye, müşteri temsilcisine bağlanmak için 0'a basınız.",
        "en": "Hello {name}. To confirm your cash on delivery order {order_id} from {shop}, total {total}, press 1. "
              "To cancel it, press 2. To talk to a person, press 0.",
        "ru": "Здравствуйте, {name}. Чтобы подтвердить заказ {order_id} в магазине {shop} на сумму {total} с оплатой "
              "при получении, нажмите 1. Чтобы отменить, нажмите 2. Чтобы поговорить с оператором, нажмите 0.",
        "ar": "مرحباً {name}. لتأكيد طلبك رقم {order_id} من {shop} بقيمة {total} والدفع عند الاستلام اضغط 1. "
              "للإلغاء اضغط 2. للتحدث مع موظف اضغط 0.",
    }


def _sms_texts() -> dict[str, str]:
    return {
        "tr": "{shop}: {order_id} nolu {total} tutarli kapida odeme siparisinizi onaylamak icin EVET, iptal icin IPTAL "
              "yazip bu mesaji yanitlayin.",
        "en": "{shop}: reply YES to confirm your cash on delivery order {order_id} ({total}) or NO to cancel it.",
        "ru": "{shop}: ответьте ДА, чтобы подтвердить заказ {order_id} ({total}) с оплатой при получении, или НЕТ, "
              "чтобы отменить.",
        "ar": "{shop}: للدفع عند الاستلام، أرسل نعم لتأكيد طلبك {order_id} ({total}) أو لا لإلغائه.",
    }


def _reconfirm_texts() -> dict[str, str]:
    return {
        "tr": "Siparişinizi iptal etmek için 2'ye tekrar basınız. Onaylamak için 1'e basınız.",
        "en": "You pressed 2. Press 2 again to cancel your order, or 1 to confirm it.",
        "ru": "Вы нажали 2. Нажмите 2 ещё раз, чтобы отменить заказ, или 1, чтобы подтвердить.",
        "ar": "لقد ضغطت 2. اضغط 2 مرة أخرى لإلغاء طلبك، أو 1 لتأكيده.",
    }


def _unclear_texts() -> dict[str, str]:
    return {
        "tr": "{shop}: Yanitinizi anlayamadik. {order_id} nolu siparisiniz icin bir temsilcimiz sizinle iletisime gececek.",
        "en": "{shop}: we could not read your reply. Someone from our team will contact you about order {order_id}.",
        "ru": "{shop}: мы не поняли ваш ответ. Наш сотрудник свяжется с вами по заказу {order_id}.",
        "ar": "{shop}: لم نفهم ردك. سيتواصل معك أحد موظفينا بخصوص الطلب {order_id}.",
    }


def _optout_texts() -> dict[str, str]:
    """The one answer to "STOP": transactional, no promotion (İYS, telephony-sms.md §4.3)."""
    return {
        "tr": "{shop}: Talebiniz alindi. Bu numarayi artik otomatik olarak aramayacak ve mesaj gondermeyecegiz. "
              "Acik siparisiniz varsa ekibimiz ilgilenecek.",
        "en": "{shop}: done. We will no longer call or text this number automatically. If you have an open order, "
              "our team will take care of it.",
        "ru": "{shop}: запрос принят. Мы больше не будем автоматически звонить и писать на этот номер. Если у вас "
              "есть открытый заказ, им займётся наш сотрудник.",
        "ar": "{shop}: تم استلام طلبك. لن نتصل بهذا الرقم أو نرسل إليه رسائل تلقائية بعد الآن. إذا كان لديك طلب "
              "مفتوح فسيتولاه أحد موظفينا.",
    }


def _pay_call_texts() -> dict[str, str]:
    """Added to the call text when paying by link is offered (key 3)."""
    return {
        "tr": "Siparişinizi şimdi kartla ödemek için 3'e basınız; ödeme linkini SMS ile göndereceğiz.",
        "en": "To pay for it now by card, press 3: we will send you a payment link.",
        "ru": "Чтобы оплатить заказ картой сейчас, нажмите 3: мы пришлём ссылку на оплату.",
        "ar": "للدفع الآن بالبطاقة اضغط 3، وسنرسل لك رابط الدفع.",
    }


def _pay_sms_texts() -> dict[str, str]:
    """Added to the SMS text when paying by link is offered (the reply words rules.PAY_WORDS reads)."""
    return {
        "tr": "Kartla odemek icin ODE yazin.",
        "en": "Reply PAY to pay by card now.",
        "ru": "Чтобы оплатить картой, ответьте ОПЛАТА.",
        "ar": "للدفع بالبطاقة أرسل PAY.",
    }


def _pay_link_texts() -> dict[str, str]:
    """The message carrying the pay link (the link is added after it)."""
    return {
        "tr": "{shop}: {order_id} nolu siparisinizi bu linkten kartla odeyebilirsiniz:",
        "en": "{shop}: pay for your order {order_id} by card here:",
        "ru": "{shop}: оплатите заказ {order_id} картой по ссылке:",
        "ar": "{shop}: ادفع ثمن طلبك {order_id} بالبطاقة من هنا:",
    }


PAY_LINK_CHANNELS = ("sms", "email")


@dataclass
class CodConfirmConfig:
    """Parsed from Integration.settings; `to_settings()` writes it back. Unknown keys are ignored."""

    cod_codes: list[str] = field(default_factory=lambda: ["cod"])
    pending_status_id: int = 1
    confirmed_status_id: int = 2
    cancelled_status_id: int = 7
    # Channels, connections and spacing are the channel plan (`plan.py`, ChannelStep rows), not settings.
    # Each channel's steps apply to numbers `phonenumbers` places in its regions (ISO codes; empty = every region)
    # except the "off" ones; others skip to the next step (rules.step_skip_reason). Russia restricts WhatsApp
    # (whatsapp.md "Russia"): off by default, by region, never by the +7 prefix (Kazakhstan shares it).
    whatsapp_countries: list[str] = field(default_factory=list)
    whatsapp_off_countries: list[str] = field(default_factory=lambda: ["RU"])
    # The WhatsApp message carries the customer's address link (a second template, reviewed by Meta)
    whatsapp_address_link: bool = False
    call_countries: list[str] = field(default_factory=list)
    sms_countries: list[str] = field(default_factory=list)
    # Risk score (risk.py): share this store's outcomes with the hub's other sharing stores (off by default);
    # hold for a person above a score, always confirm above a score, skip after this many delivered orders.
    risk_share: bool = False
    risk_hold_above: int | None = None
    risk_confirm_above: int | None = None
    risk_skip_proven: int | None = None
    # The shop's own order statuses that mean "refused at the door or returned" and "delivered" (the owner's
    # mapping; empty = not counted). The order-history feed turns them into the phone's outcomes (outcomes.py).
    risk_refused_status_ids: list[int] = field(default_factory=list)
    risk_delivered_status_ids: list[int] = field(default_factory=list)
    day_hours: dict[str, list[str] | None] = field(default_factory=_every_day)
    on_exhausted: str = "needs_person"  # or "cancel"
    reconfirm_cancel: bool = True
    rep_target: str = ""  # phone number or PBX extension for digit 0
    caller_id: str = ""
    sms_sender: str = ""
    announcement_id: str = ""  # a recorded announcement instead of TTS, where the provider supports it
    read_order_details: bool = True
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    skip_after_completed_orders: int | None = None  # trusted repeat customers are not called
    dry_run: bool = False
    notify_customer: bool = False
    comment_confirmed: str = "COD confirmed by the customer ({channel})."
    comment_cancelled: str = "COD order cancelled by the customer ({channel})."
    comment_exhausted: str = "COD order cancelled: the customer could not be reached."
    # a person's decision says who decided, never "by the customer" ({person}: their user name)
    comment_person_confirmed: str = "COD confirmed by {person} in ocbridge."
    comment_person_cancelled: str = "COD order cancelled by {person} in ocbridge."
    call_texts: dict[str, str] = field(default_factory=_call_texts)
    sms_texts: dict[str, str] = field(default_factory=_sms_texts)
    reconfirm_texts: dict[str, str] = field(default_factory=_reconfirm_texts)
    unclear_texts: dict[str, str] = field(default_factory=_unclear_texts)
    optout_texts: dict[str, str] = field(default_factory=_optout_texts)
    several_pending: str = "require_order"  # or "latest"
    # Pay now instead of at the door: key 3 in the call, ODE/KART/ОПЛАТА/PAY in an SMS reply → a Payment through the
    # store's payment integration and its /pay/ link by `pay_link_channel`; the case waits `pay_wait_hours` for it.
    pay_offer: bool = False
    pay_link_channel: str = "sms"  # or "email" (the order's address)
    pay_wait_hours: int = 48
    pay_call_texts: dict[str, str] = field(default_factory=_pay_call_texts)
    pay_sms_texts: dict[str, str] = field(default_factory=_pay_sms_texts)
    pay_link_texts: dict[str, str] = field(default_factory=_pay_link_texts)
    return_shipping_cost: Decimal = Decimal("0")  # for "money saved" on the overview

    @classmethod
    def from_settings(cls, data: dict | None) -> CodConfirmConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in (data or {}).items() if k in names}
        for k in ("min_total", "max_total", "return_shipping_cost"):
            if values.get(k) not in (None, ""):
                values[k] = Decimal(str(values[k]))
            elif k in values:
                values[k] = None if k != "return_shipping_cost" else Decimal("0")
        if "pay_wait_hours" in values:
            values["pay_wait_hours"] = max(int(values["pay_wait_hours"] or 48), 1)
        if values.get("pay_link_channel") not in (None, *PAY_LINK_CHANNELS):
            values["pay_link_channel"] = "sms"
        return cls(**values)

    def to_settings(self) -> dict:
        out = dataclasses.asdict(self)
        for k in ("min_total", "max_total", "return_shipping_cost"):
            out[k] = None if out[k] is None else str(out[k])
        return out

    def countries(self, channel: str) -> tuple[set[str], set[str]]:
        """(regions the channel is used for — empty: all, regions it is never used for) of one channel."""
        used = {c.upper() for c in getattr(self, f"{channel}_countries", None) or ()}
        off = {c.upper() for c in (self.whatsapp_off_countries if channel == "whatsapp" else ())}
        return used, off

    def text(self, texts: dict[str, str], language: str) -> str:
        """The template for a language, falling back to English, then any."""
        lang = (language or "en")[:2].lower()
        return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")
