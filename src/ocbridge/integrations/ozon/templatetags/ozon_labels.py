"""`{{ code|ozon_product_state }}`, `{{ code|ozon_posting_state }}`: Ozon states by name (labels.py)."""

from django import template

from ocbridge.integrations.ozon import labels

register = template.Library()
register.filter("ozon_product_state", labels.product_state)
register.filter("ozon_posting_state", labels.posting_state)
