"""Pure translation between a Confirmation and what a service is asked to say or send."""

from __future__ import annotations

import string
from decimal import Decimal

from ocbridge.integrations.cod_confirm.config import PLACEHOLDERS, CodConfirmConfig


class TemplateError(ValueError):
    """A message template names a placeholder we do not fill, or is malformed."""


def check_template(template: str) -> None:
    """Raise TemplateError unless every {placeholder} is one we know."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise TemplateError(str(exc)) from exc
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        raise TemplateError(", ".join("{" + u + "}" for u in unknown))


def format_total(total: Decimal, currency: str, language: str = "", *, spoken: bool = False) -> str:
    """The amount as the customer hears it (words, for calls) or reads it (digits their language's way, for SMS)."""
    from ocbridge.integrations.cod_confirm import amounts

    return amounts.spoken(total, currency, language) if spoken else amounts.written(total, currency, language)


def fill(template: str, *, name: str, order_label: str, total: Decimal, currency: str, shop: str, items: int,
         with_details: bool = True, language: str = "", spoken: bool = False, address_link: str = "") -> str:
    values = {
        "address_link": "" if spoken else address_link,  # a link is read, never spoken
        "name": name.strip() or "",
        "order_id": order_label,
        "total": format_total(total, currency, language, spoken=spoken) if with_details else "",
        "shop": shop,
        "items": str(items) if with_details else "",
    }
    return " ".join(template.format(**values).split())


def message_for(confirmation, texts: dict[str, str], cfg: CodConfirmConfig, shop: str) -> str:
    """The call or SMS text for a confirmation; call texts (cfg.call_texts) speak the total in words."""
    template = cfg.text(texts, confirmation.language)
    link = ""
    if "{address_link}" in template and confirmation.pk:
        from ocbridge.integrations.cod_confirm import address

        link = address.url_for(confirmation)
    return fill(
        template,
        address_link=link,
        name=confirmation.customer_name,
        order_label=confirmation.order_label,
        total=confirmation.total,
        currency=confirmation.currency,
        shop=shop,
        items=confirmation.item_count,
        with_details=cfg.read_order_details,
        language=confirmation.language,
        spoken=texts is cfg.call_texts,
    )


def history_comment(template: str, *, channel: str, detail: str = "") -> str:
    """Order-history comment naming the channel and what the customer did."""
    text = template.replace("{channel}", channel)
    return f"{text} {detail}".strip()
