"""`OneBoxConfig`: the settings of one Store's OneBox integration, parsed from Integration.settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ocbridge.core.bindings import CONFLICT_RULES, SHOP_WINS

# What flows which way, per record kind. "both" for orders means statuses come back from OneBox too.
KINDS = ("order", "history", "status", "category", "brand", "product", "contact", "contact_group")
DIRECTIONS = ("off", "out", "in", "both")
DEFAULT_FLOWS = {"order": "out", "history": "out", "status": "both", "category": "out", "brand": "out",
                 "product": "out", "contact": "out", "contact_group": "off"}


@dataclass
class OneBoxConfig:
    """Parsed from Integration.settings; `to_settings()` writes it back. Unknown keys are ignored."""

    flows: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FLOWS))
    conflict_rules: dict[str, str] = field(default_factory=dict)  # kind → shop / service / newest (default shop)
    order_prefix: str = ""  # "" → the store's order prefix; the code is "<prefix>-<order_id>"
    workflow_id: int = 0  # OneBox business process for orders (0: the box's default)
    status_map: dict[str, dict[str, int]] = field(default_factory=dict)  # workflow id → {OpenCart status: OneBox status}
    price_level: str = ""  # "" → the product's base price goes to OneBox's price; else this price level's name
    language_map: dict[str, str] = field(default_factory=dict)  # OpenCart language_id → OneBox language code
    group_map: dict[str, int] = field(default_factory=dict)  # OpenCart customer_group_id → OneBox contact group id
    #                          (paired by the owner; contact groups OneBox has beyond these are created in the shop
    #                          when flows["contact_group"] takes them)
    notify_customer: bool = False  # status changes from OneBox: mail the customer where a mail really goes
    history_batch: int = 200  # orders per step of the whole-history load

    @classmethod
    def from_settings(cls, data: dict | None) -> OneBoxConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        cfg = cls(**{k: v for k, v in (data or {}).items() if k in names})
        cfg.flows = {**DEFAULT_FLOWS, **{k: v for k, v in (cfg.flows or {}).items() if v in DIRECTIONS}}
        cfg.conflict_rules = {k: v for k, v in (cfg.conflict_rules or {}).items() if v in CONFLICT_RULES}
        cfg.workflow_id = int(cfg.workflow_id or 0)
        return cfg

    def to_settings(self) -> dict:
        return dataclasses.asdict(self)

    def sends(self, kind: str) -> bool:
        return self.flows.get(kind) in ("out", "both")

    def takes(self, kind: str) -> bool:
        return self.flows.get(kind) in ("in", "both")

    def rule(self, kind: str) -> str:
        return self.conflict_rules.get(kind) or SHOP_WINS

    def stock_contradiction(self, stock_source: str) -> str:
        """Why these settings contradict the store's stock source (DESIGN "One stock source per store"), or ""."""
        from django.utils.translation import gettext as _

        if stock_source == "onebox" and not self.takes("product"):
            return _("OneBox as the stock source needs products coming from OneBox (Products: OneBox → shop or "
                     "both ways).")
        return ""

    def prefix(self, store) -> str:
        return (self.order_prefix or store.order_prefix or f"S{store.pk}").rstrip("-")

    def order_code(self, store, order_id: int) -> str:
        return f"{self.prefix(store)}-{order_id}"

    def order_id_of(self, store, code: str) -> int | None:
        """Our order id from a OneBox externalid, None when it is not one of this store's."""
        head, sep, rest = str(code or "").rpartition("-")
        return int(rest) if sep and head == self.prefix(store) and rest.isdigit() else None

    def statuses(self) -> dict[int, int]:
        """OpenCart status → OneBox status of the orders' business process."""
        return {int(k): int(v) for k, v in (self.status_map.get(str(self.workflow_id)) or {}).items() if v}

    def shop_status(self, onebox_status: int) -> int | None:
        """The OpenCart status a OneBox status maps back to (the first one listed when several map to it)."""
        return next((oc for oc, ob in self.statuses().items() if ob == int(onebox_status)), None)
