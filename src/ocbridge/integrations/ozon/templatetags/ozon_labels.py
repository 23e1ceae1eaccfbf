"""Ozon states and the hub's actions by name in the reader's language (labels.py): `{{ code|ozon_product_state }}`,
`{{ code|ozon_posting_state }}`, `{{ out|ozon_status_out:action }}`, `{{ r|ozon_return_state }}`,
`{{ code|ozon_tracking_source }}`."""

from django import template

from ocbridge.integrations.ozon import labels

register = template.Library()
register.filter("ozon_product_state", labels.product_state)
register.filter("ozon_posting_state", labels.posting_state)
register.filter("ozon_tracking_source", labels.tracking_source)


@register.filter
def ozon_status_out(out: dict, action: str) -> str:
    return labels.status_out(action, out or {})


@register.filter
def ozon_return_state(r: dict) -> str:
    return labels.return_state((r or {}).get("sys_name", ""), (r or {}).get("status", ""))

