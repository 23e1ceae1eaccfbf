"""Every provider method ocbridge calls, with its deprecation / switch-off date and the source that says so.

Providers re-version methods (Ozon every few months) and a method switched off fails for every shop at once,
so this list is the one place that knows which method is current. `tests/contracts/test_provider_methods.py`
fails when a listed method is past its deprecation or switch-off date by the injected clock
(`ocbridge.core.clock`) and when a contract test sees our client call a method missing from this list;
the dashboard shows `notices()` for a store's services from 30 days before a switch-off.

Shape of an entry (append yours in the service's block, keep the blocks sorted by service):

    ProviderMethod(
        service="ozon",                       # Connection.service of the client that calls it
        method="POST /v4/posting/fbs/list",   # HTTP verb + path as the provider documents it; `{name}` = a
                                              # path segment (an id), matched as one segment
        used_for="new and changed FBS postings",
        source="docs.ozon.ru/api/seller News 2026-04-30; ozon.md §0",   # where the status was read
        checked=date(2026, 12, 6),            # when that source was read
        deprecated=None,                      # date the provider marked it deprecated (None: not marked)
        switch_off=None,                      # date it stops answering (None: no date announced)
        replacement="",                       # what the provider says to use instead
        field="",                             # a deprecated field of the method rather than the whole method
        fixing="",                            # issue replacing it; a method past its date with `fixing` set is
                                              # an expected failure (xfail) until that issue lands, not a pass
    )

A method we stop calling is removed from the list; one we start calling is added before the code that calls
it lands (the contract tests refuse unlisted calls). Webhooks the providers send us are not methods; their
shapes are held by the contract tests.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property

from ocbridge.core import clock

WARN_DAYS = 30  # the dashboard warns this many days before a switch-off


@dataclass(frozen=True)
class ProviderMethod:
    service: str
    method: str
    used_for: str
    source: str
    checked: dt.date
    deprecated: dt.date | None = None
    switch_off: dt.date | None = None
    replacement: str = ""
    field: str = ""
    fixing: str = ""

    @cached_property
    def _pattern(self) -> re.Pattern:
        verb, _, path = self.method.partition(" ")
        parts = re.split(r"(\{[^}]+\})", path)
        regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(rf"{re.escape(verb)} {regex}")

    def matches(self, verb: str, path: str) -> bool:
        return bool(self._pattern.fullmatch(f"{verb.upper()} {path}"))

    def overdue(self, today: dt.date) -> bool:
        """Deprecated or switched off by `today`: calling it is a defect."""
        return any(d is not None and d <= today for d in (self.deprecated, self.switch_off))

    @property
    def label(self) -> str:
        return f"{self.service} {self.method}" + (f" (field {self.field})" if self.field else "")


_TWILIO_SDK = "twilio-python 9.13 (PyPI `twilio`), rest/api/v2010/account"
_VERIMOR_SMS = "github verimor/SMS-API user_guide.md"
_VERIMOR_PBX = "github verimor/Bulutsantralim-API"
_NETGSM_SMS = "PyPI `netgsm-sms` 1.1.2 and github netgsm/netgsm-sms-js src/netgsm.ts"
_OZON_NEWS = "docs.ozon.ru/api/seller News tab (mirror: github xmdragon/ozon-library docs/api/seller-api-news.md); ozon.md §0"
_OZON_REF = "docs.ozon.ru/api/seller operation page (mirror: github xmdragon/ozon-library docs/api/official); ozon.md §0"
_CHECKED = dt.date(2026, 12, 6)
_WA = "whatsapp.md (developers.facebook.com/documentation/business-messaging/whatsapp, Graph changelog [VER])"
_WA_V25_END = dt.date(2028, 7, 29)  # "v25.0 (2026-02-18, available until 2028-07-29)", whatsapp.md §1
_DC = "github GardeningExpress/despatchcloud-client @256f045 (src/DespatchCloudHttpClient.cs, sandbox tests); docs/providers/despatch-cloud.md"

_OB = "docs/providers/onebox.md: public v2 clients [WC] CatCode Order Sync 0.2.0, [HUB] github indesit/onebox-integrations-hub @ace8a13"
_OB_SIM = "docs/providers/onebox.md §4: simulator only (not in public material), by analogy with the v2 methods seen"
_OB_DOC = "1b.app/en/api/orders (legacy API, OneBox's own page)"
_APS = "payments.md Part A; APS signature examples; github payfort/payfort-php-sdk (Model/Maintenance/*, APSSignature.php)"

_LP = ("payments.md Part B; github Latitude-Financial/woocommerce-latitudepay-genoapay; the service closed in 2023 "
       "(Genoapay purchases ended 2023-04-11): simulator only")

METHODS: tuple[ProviderMethod, ...] = (
    # aps (Amazon Payment Services; no deprecation notices published) -------------------------------------
    ProviderMethod("aps", "POST /FortAPI/paymentApi", "PURCHASE / AUTHORIZATION with a merchant page token, "
                   "CHECK_STATUS, CAPTURE, REFUND, VOID_AUTHORIZATION, GET_INSTALLMENTS_PLANS (JSON)", _APS, _CHECKED),
    # despatch (Despatch Cloud public API; no deprecation notices published) ------------------------------
    ProviderMethod("despatch", "POST /public-api/auth/login", "API user's bearer token", _DC, _CHECKED),
    ProviderMethod("despatch", "POST /public-api/orders/create", "create a ready order", _DC, _CHECKED),
    ProviderMethod("despatch", "GET /public-api/orders", "find by channel_order_id; orders changed in a window", _DC,
                   _CHECKED),
    ProviderMethod("despatch", "POST /public-api/order/{id}/add_inventory", "an order's lines", _DC, _CHECKED),
    ProviderMethod("despatch", "POST /public-api/order/{id}/update", "hold / release an order (status_id)", _DC,
                   _CHECKED),
    ProviderMethod("despatch", "POST /public-api/order/{id}/cancel", "cancel an order the shop cancelled", _DC, _CHECKED),
    ProviderMethod("despatch", "GET /public-api/inventory", "stock by SKU, changed items first", _DC, _CHECKED),
    ProviderMethod("despatch", "POST /public-api/inventory/{id}/update", "set an item's stock (field: simulator only)",
                   _DC, _CHECKED),
    # latitudepay (v3; closed in 2023 — no switch-off date set: the owner sees it in the integration's name) --------
    ProviderMethod("latitudepay", "POST /v3/token", "bearer token from API key and secret", _LP, _CHECKED),
    ProviderMethod("latitudepay", "GET /v3/configuration", "settings Test: account name and amount range", _LP, _CHECKED),
    ProviderMethod("latitudepay", "POST /v3/sale/online", "create the sale (paymentUrl)", _LP, _CHECKED),
    ProviderMethod("latitudepay", "GET /v3/sale/pos/{token}/status", "status of a sale (shape unverified)", _LP, _CHECKED),
    ProviderMethod("latitudepay", "POST /v3/sale/{token}/refund", "full or partial refund", _LP, _CHECKED),
    ProviderMethod("latitudepay", "GET /v3/pay/{token}", "the shopper's page (simulator only)", _LP, _CHECKED),
    ProviderMethod("latitudepay", "POST /v3/pay/{token}", "the shopper's decision (simulator only)", _LP, _CHECKED),
    # netgsm ---------------------------------------------------------------------------------------------
    ProviderMethod("netgsm", "POST /sms/rest/v2/send", "send an SMS", _NETGSM_SMS, _CHECKED),
    ProviderMethod("netgsm", "GET /sms/rest/v2/inbox", "read inbound SMS (read-once)", _NETGSM_SMS, _CHECKED),
    ProviderMethod("netgsm", "GET /sms/rest/v2/msgheader", "check credentials, list sender names", _NETGSM_SMS,
                   _CHECKED),
    ProviderMethod("netgsm", "POST /balance", "the account's credit in lira (stip 2), for the owner's threshold",
                   "github netgsm/netgsm-sms-js src/netgsm.ts checkBalance, __tests__/unit/netgsm.test.ts", _CHECKED),
    ProviderMethod("netgsm", "POST /voicesms/send", "confirmation call (one key); order-status voice message",
                   "github netgsm/voicemail README.md, src/Package.php", _CHECKED),
    ProviderMethod("netgsm", "GET /{usercode}/xfer", "order status by phone: transfer the caller to a person",
                   "github netgsm/netsantral README.md 'Çağrı Transfer', src/Package.php cagritransfer()", _CHECKED),
    # onebox (OneBox OS API v2; no deprecation notices published) ----------------------------------------
    ProviderMethod("onebox", "POST /api/v2/token/get/", "API employee's token", _OB, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/order/set/", "orders out (upsert on externalid)", _OB, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/order/get/", "find by externalid; orders changed in OneBox", _OB, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/product/set/", "products out (findbyArray articul)", _OB, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/product/get/", "products by articul; changed in OneBox", _OB, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/contact/set/", "customers out (findbyArray externalid, phone)", _OB,
                   _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/contact/get/", "contacts changed in OneBox", _OB, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/workflow/get/", "business processes; the connection test", _OB, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/workflowstatus/get/", "statuses of a business process", _OB_SIM, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/comment/set/", "an order history entry as a comment", _OB_SIM, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/category/set/", "categories out", _OB_SIM, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/category/get/", "categories changed in OneBox", _OB_SIM, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/brand/set/", "brands out", _OB_SIM, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/brand/get/", "brands changed in OneBox", _OB_SIM, _CHECKED),
    ProviderMethod("onebox", "POST /api/v2/contactgroup/get/", "contact groups", _OB_SIM, _CHECKED),
    ProviderMethod("onebox", "POST /api/orders/add/", "legacy order create (contract test only)", _OB_DOC, _CHECKED),
    # ozon (the Ozon issue #16 owns these entries) -----------------------------------------------------
    ProviderMethod("ozon", "POST /v3/product/import", "create or update product cards", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v1/product/import/info", "result of a product import", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v3/product/list", "list our products (total in result.total_items)", _OZON_REF,
                   _CHECKED),
    ProviderMethod("ozon", "POST /v3/product/info/list", "read product cards", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v4/product/info/attributes", "attributes of cards to import into the shop",
                   _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v1/product/info/description", "description of a card to import into the shop",
                   _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v4/product/info/limit", "daily create/update quotas", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v2/products/stocks", "set stock per warehouse", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v1/product/import/prices", "set prices (without auto_action_enabled)", _OZON_REF,
                   _CHECKED),
    ProviderMethod("ozon", "POST /v5/product/info/prices", "read back prices of Ozon-owned offers", _OZON_REF,
                   _CHECKED),
    ProviderMethod("ozon", "POST /v2/warehouse/list", "list warehouses (cached: one call a minute)",
                   _OZON_NEWS + "; News 2025-12-16/18 (limit, cursor, has_next)", _CHECKED),
    ProviderMethod("ozon", "POST /v1/description-category/tree", "category tree", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v1/description-category/attribute", "category attributes", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v1/description-category/attribute/values", "attribute dictionary values",
                   _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v4/posting/fbs/list", "new and changed FBS/rFBS postings (cursor paging)",
                   _OZON_NEWS + "; News 2026-04-30 (new method)", _CHECKED),
    ProviderMethod("ozon", "POST /v4/posting/fbs/unfulfilled/list", "open postings on the first poll",
                   _OZON_NEWS + "; News 2026-04-30 (replaces /v3/posting/fbs/unfulfilled/list)", _CHECKED),
    ProviderMethod("ozon", "POST /v3/posting/fbs/get", "one FBS posting", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v4/posting/fbs/ship", "pack (ship) a posting", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v2/posting/fbs/awaiting-delivery", "disputed posting back to awaiting_deliver",
                   _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v2/fbs/posting/tracking-number/set", "rFBS own delivery: tracking number",
                   _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v2/fbs/posting/delivering", "rFBS own delivery: delivering", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v2/fbs/posting/last-mile", "rFBS own delivery: last mile", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v2/fbs/posting/delivered", "rFBS own delivery: delivered", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v2/posting/fbs/cancel", "cancel a posting", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v2/posting/fbs/cancel-reason/list", "cancel reasons (cached)", _OZON_REF, _CHECKED),
    ProviderMethod("ozon", "POST /v1/returns/list", "FBS returns",
                   _OZON_REF + "; News 2025-02-18 (replaces /v3/returns/company/fbs)", _CHECKED),
    # sandbox (our own protocol: simulators/sandbox.py is its spec) ---------------------------------------
    ProviderMethod("sandbox", "POST /v1/calls", "confirmation call", "simulators/sandbox.py docstring", _CHECKED),
    ProviderMethod("sandbox", "GET /v1/calls", "find a call by idempotency key", "simulators/sandbox.py docstring",
                   _CHECKED),
    ProviderMethod("sandbox", "POST /v1/sms", "send an SMS", "simulators/sandbox.py docstring", _CHECKED),
    ProviderMethod("sandbox", "GET /v1/sms", "find an SMS by idempotency key", "simulators/sandbox.py docstring",
                   _CHECKED),
    ProviderMethod("sandbox", "GET /v1/inbound", "inbound SMS, check credentials", "simulators/sandbox.py docstring",
                   _CHECKED),
    # telegram (owner alerts; Bot API, no versions in the URL, methods not deprecated) ----------------------
    ProviderMethod("telegram", "POST /bot{token}/sendMessage", "an alert to an owner's chat",
                   "core.telegram.org/bots/api#sendmessage", _CHECKED),
    ProviderMethod("telegram", "POST /bot{token}/getMe", "check the bot token",
                   "core.telegram.org/bots/api#getme", _CHECKED),
    # twilio -----------------------------------------------------------------------------------------------
    ProviderMethod("twilio", "POST /2010-04-01/Accounts/{AccountSid}/Calls.json", "confirmation call",
                   _TWILIO_SDK + "/call", _CHECKED),
    ProviderMethod("twilio", "GET /2010-04-01/Accounts/{AccountSid}/Calls.json", "find a call after a lost answer",
                   _TWILIO_SDK + "/call", _CHECKED),
    ProviderMethod("twilio", "POST /2010-04-01/Accounts/{AccountSid}/Messages.json", "send an SMS",
                   _TWILIO_SDK + "/message", _CHECKED),
    ProviderMethod("twilio", "GET /2010-04-01/Accounts/{AccountSid}/Messages.json",
                   "find an SMS after a lost answer", _TWILIO_SDK + "/message", _CHECKED),
    ProviderMethod("twilio", "GET /2010-04-01/Accounts/{AccountSid}.json", "check credentials", _TWILIO_SDK,
                   _CHECKED),
    ProviderMethod("twilio", "GET /2010-04-01/Accounts/{AccountSid}/Balance.json", "the account's balance",
                   _TWILIO_SDK + "/balance", _CHECKED),
    # verimor ----------------------------------------------------------------------------------------------
    ProviderMethod("verimor", "POST /ivr_campaigns.json", "confirmation call (one IVR campaign per call)",
                   _VERIMOR_PBX + " ivr_campaigns.md", _CHECKED),
    ProviderMethod("verimor", "GET /cdrs", "check the PBX key", _VERIMOR_PBX + " cdrs.md", _CHECKED),
    ProviderMethod("verimor", "POST /v2/send.json", "send an SMS", _VERIMOR_SMS, _CHECKED),
    ProviderMethod("verimor", "GET /v2/status", "find an SMS by custom_id after a lost answer", _VERIMOR_SMS,
                   _CHECKED),
    ProviderMethod("verimor", "GET /v2/inbound_messages", "inbound SMS pull (safety net behind the push)",
                   _VERIMOR_SMS, _CHECKED),
    ProviderMethod("verimor", "GET /v2/balance", "check the SMS account; its credit for the owner's threshold",
                   _VERIMOR_SMS + " 'SMS KALAN KREDİ SORGULAMA'", _CHECKED),
    # whatsapp (Meta Graph API, version pinned in services/whatsapp.py: v25.0 available until 2028-07-29) -----
    ProviderMethod("whatsapp", "POST /v25.0/{phone-number-id}/messages",
                   "COD confirmation template message; the pay link as text in the chat",
                   _WA + " §2 [SEND][TXT]", _CHECKED, switch_off=_WA_V25_END, replacement="a newer Graph version"),
    ProviderMethod("whatsapp", "POST /v25.0/{waba-id}/message_templates", "create the UTILITY template",
                   _WA + " §3 [UTIL]", _CHECKED, switch_off=_WA_V25_END, replacement="a newer Graph version"),
    ProviderMethod("whatsapp", "GET /v25.0/{waba-id}/message_templates", "template approval state",
                   _WA + " §3 [TPL]", _CHECKED, switch_off=_WA_V25_END, replacement="a newer Graph version"),
    ProviderMethod("whatsapp", "GET /v25.0/{phone-number-id}", "check credentials (the number answers)",
                   _WA + " §1", _CHECKED, switch_off=_WA_V25_END, replacement="a newer Graph version"),
)


def today() -> dt.date:
    return clock.now().date()


def find(service: str, verb: str, path: str) -> list[ProviderMethod]:
    """Entries (whole method and its deprecated fields) for a request our client made; [] = not listed."""
    return [m for m in METHODS if m.service == service and m.matches(verb, path)]


def overdue(on: dt.date | None = None) -> list[ProviderMethod]:
    """Methods (or fields) deprecated or switched off by `on` (default: the clock's today)."""
    on = on or today()
    return [m for m in METHODS if m.overdue(on)]


@dataclass(frozen=True)
class Notice:
    """One warning for the dashboard: a method a store's service uses that is going away (or gone)."""

    method: ProviderMethod
    days_left: int | None  # days until switch-off; negative = already off; None = deprecated, no date set

    @property
    def level(self) -> str:
        return "error" if self.days_left is not None and self.days_left <= 0 else "warning"


def notices(services=None, *, on: dt.date | None = None, within_days: int = WARN_DAYS) -> list[Notice]:
    """What the dashboard warns about for these services (None = all): methods switched off already or within
    `within_days`, and deprecated methods with no switch-off date. Soonest first."""
    on = on or today()
    wanted = None if services is None else set(services)
    found = []
    for m in METHODS:
        if wanted is not None and m.service not in wanted:
            continue
        if m.switch_off is not None:
            left = (m.switch_off - on).days
            if left <= within_days:
                found.append(Notice(m, left))
        elif m.deprecated is not None and m.deprecated <= on:
            found.append(Notice(m, None))
    return sorted(found, key=lambda n: (n.days_left is None, n.days_left or 0, n.method.label))
