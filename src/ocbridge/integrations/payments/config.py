"""`PaymentConfig`: the settings of one Store's payment Integration (one per gateway), from Integration.settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

COMMANDS = ("PURCHASE", "AUTHORIZATION")
INTEGRATION_TYPES = ("redirection", "merchant_page")  # APS: its hosted page, or its card page in an iframe on ours
INSTALLMENTS = ("off", "standalone", "hosted")  # APS: plans on APS's page, or on ours (GET_INSTALLMENTS_PLANS)
# APS "Installments" guide (docs/EN/24c.html): available in Egypt, KSA and UAE; the official OpenCart plugin offers
# AED, SAR, EGP with a minimum order total per currency, 1000 unless the owner sets it
INSTALLMENT_CURRENCIES = ("AED", "SAR", "EGP")
INSTALLMENT_MIN_DEFAULT = "1000"


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
    integration_type: str = "redirection"  # APS only
    installments: str = "off"  # APS only; "hosted" needs the merchant page
    installments_min: dict = dataclasses.field(  # per currency, in the currency's units (text: Decimal-safe JSON)
        default_factory=lambda: {c: INSTALLMENT_MIN_DEFAULT for c in INSTALLMENT_CURRENCIES})

    @classmethod
    def from_settings(cls, data: dict | None) -> PaymentConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        cfg = cls(**{k: v for k, v in (data or {}).items() if k in names})
        for name in ("paid_status_id", "authorised_status_id", "refunded_status_id", "link_hours"):
            setattr(cfg, name, int(getattr(cfg, name) or 0))
        cfg.link_payment_codes = [str(c).strip().lower() for c in cfg.link_payment_codes or [] if str(c).strip()]
        if cfg.command not in COMMANDS:
            cfg.command = "PURCHASE"
        if cfg.integration_type not in INTEGRATION_TYPES:
            cfg.integration_type = "redirection"
        if cfg.installments not in INSTALLMENTS or (cfg.installments == "hosted"
                                                    and cfg.integration_type != "merchant_page"):
            cfg.installments = "off"
        given = cfg.installments_min if isinstance(cfg.installments_min, dict) else {}
        cfg.installments_min = {c: str(given.get(c) or INSTALLMENT_MIN_DEFAULT) for c in INSTALLMENT_CURRENCIES}
        return cfg

    def to_settings(self) -> dict:
        return dataclasses.asdict(self)

    def installments_for(self, amount: Decimal, currency: str) -> str:
        """"standalone" / "hosted" when installments may be offered for this amount, else "" (off, a currency APS
        has no installments in, or under the owner's minimum)."""
        if self.installments == "off" or currency.upper() not in INSTALLMENT_CURRENCIES:
            return ""
        try:
            minimum = Decimal(self.installments_min[currency.upper()])
        except (InvalidOperation, KeyError):
            minimum = Decimal(INSTALLMENT_MIN_DEFAULT)
        return self.installments if amount >= minimum else ""

    def status_for(self, state: str) -> int:
        """The shop status for a payment state ("paid" / "authorised"), 0 for none."""
        if state == "authorised":
            return self.authorised_status_id or self.paid_status_id
        return self.paid_status_id if state == "paid" else 0
