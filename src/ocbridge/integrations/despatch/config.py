"""`DespatchConfig`: the settings of one Store's despatch Integration, parsed from Integration.settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

STOCK_DIRECTIONS = ("off", "dc_to_shop", "shop_to_dc")


def stock_contradiction(direction: str, stock_source: str) -> str:
    """Why a stock direction contradicts the store's stock source (DESIGN "One stock source per store"), or "".
    Despatch Cloud may write the shop's stock only as the store's source, and is not sent stock when it is one."""
    from django.utils.translation import gettext as _

    if direction == "dc_to_shop" and stock_source != "despatch":
        return _("Despatch Cloud → shop stock needs Despatch Cloud as the store's stock source (the store's page).")
    if direction == "shop_to_dc" and stock_source == "despatch":
        return _("Despatch Cloud is the store's stock source: its stock goes to the shop, not the other way.")
    return ""
SKU_FIELDS = ("sku", "model")
NOT_READY_ACTIONS = ("hold", "cancel")


@dataclass
class DespatchConfig:
    """Parsed from Integration.settings; `to_settings()` writes it back. Unknown keys are ignored."""

    ready_status_ids: list[int] = field(default_factory=lambda: [2])  # OpenCart "Processing"
    order_prefix: str = ""  # channel_order_id = prefix + order id (DC's own module offers the same per shop)
    shipping_map: dict[str, str] = field(default_factory=dict)  # OpenCart shipping code → DC shipping method
    despatched_status_id: int = 3  # OpenCart "Shipped"
    cancelled_status_id: int = 7  # OpenCart "Canceled", when DC cancels
    notify_customer: bool = True  # only where a mail really goes (native API path)
    not_ready_action: str = "hold"  # an order that stops being ready before DC picks it: hold or cancel there
    stock_direction: str = "off"
    sku_field: str = "sku"
    tracking_url: str = ""  # e.g. https://www.royalmail.com/track-your-item#/tracking-results/{code}
    manual_channel_id: int = 0  # DC sales channel for API orders (0: DC's default)
    poll_overlap_minutes: int = 2  # DC's clock and commit order may lag ours a little; every minute more is re-read
    initial_hours: int = 24  # first read of DC's orders looks this far back

    @classmethod
    def from_settings(cls, data: dict | None) -> DespatchConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        cfg = cls(**{k: v for k, v in (data or {}).items() if k in names})
        cfg.ready_status_ids = [int(s) for s in cfg.ready_status_ids]
        cfg.despatched_status_id, cfg.cancelled_status_id = int(cfg.despatched_status_id), int(cfg.cancelled_status_id)
        return cfg

    def to_settings(self) -> dict:
        return dataclasses.asdict(self)

    def channel_order_id(self, order_id: int) -> str:
        return f"{self.order_prefix}{order_id}"

    def order_id_of(self, channel_order_id: str) -> int | None:
        """Our order id from a DC channel_order_id, None when it is not one of this shop's."""
        if not channel_order_id.startswith(self.order_prefix):
            return None
        rest = channel_order_id[len(self.order_prefix):]
        return int(rest) if rest.isdigit() else None
