"""`PaymentConfig`: the settings of one Store's payment Integration (one per gateway), from Integration.settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

COMMANDS = ("PURCHASE", "AUTHORIZATION")


@dataclass
class PaymentConfig:
    """Parsed from Integration.settings; `to_settings()` writes it back. Unknown keys are ignored."""

    command: str = "PURCHASE"  # APS: take the money now, or authorise and capture later
    paid_status_id: int = 2  # OpenCart "Processing": the order's status once the gateway says paid
    authorised_status_id: int = 0  # 0: the paid status also for an authorisation
    refunded_status_id: int = 0  # after a full refund (0: leave the status, write the history comment only)
    link_hours: int = 48  # how long a pay link works
    language: str = "en"  # the hosted page's language when the order's is not one the gateway speaks
    notify_customer: bool = False  # only where a mail really goes (native API path)
    link_payment_codes: list = dataclasses.field(default_factory=list)  # new orders paid so get a pay link by e-mail

    @classmethod
    def from_settings(cls, data: dict | None) -> PaymentConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        cfg = cls(**{k: v for k, v in (data or {}).items() if k in names})
        for name in ("paid_status_id", "authorised_status_id", "refunded_status_id", "link_hours"):
            setattr(cfg, name, int(getattr(cfg, name) or 0))
        cfg.link_payment_codes = [str(c).strip().lower() for c in cfg.link_payment_codes or [] if str(c).strip()]
        if cfg.command not in COMMANDS:
            cfg.command = "PURCHASE"
        return cfg

    def to_settings(self) -> dict:
        return dataclasses.asdict(self)

    def status_for(self, state: str) -> int:
        """The shop status for a payment state ("paid" / "authorised"), 0 for none."""
        if state == "authorised":
            return self.authorised_status_id or self.paid_status_id
        return self.paid_status_id if state == "paid" else 0
