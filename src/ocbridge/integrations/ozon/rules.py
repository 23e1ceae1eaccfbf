"""Pure decisions for the Ozon sync: what changed, what is missing, what may be sent now (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ocbridge.integrations.ozon import mappers
from ocbridge.integrations.ozon.config import OzonConfig

STOCK_PAIR_SECONDS = 30  # one product–warehouse pair at most once per 30 s (ozon.md §3)
PRICE_UPDATES_PER_HOUR = 10  # one product's price at most 10 times an hour (ozon.md §3)
CANCELLED = ("cancelled", "cancelled_from_split_pending")
# Posting statuses before the parcel leaves the seller: an order the shop already shipped is not moved back.
BEFORE_SHIPPING = ("awaiting_registration", "acceptance_in_progress", "awaiting_approve", "awaiting_packaging",
                   "awaiting_deliver", "awaiting_verification")
# Posting statuses in which the parcel is on its way or arrived: a "ship" from the shop has nothing left to do.
SHIPPED = ("delivering", "driver_pickup", "delivered", "sent_by_seller", "arbitration", "client_arbitration")
OUR_COMMENT = mappers.OUR_COMMENT
QUOTA_CHECK_FROM = 100  # pushes of at least one full import batch check Ozon's daily quota first
# Product states in which the card exists at Ozon, so stock and price may be sent (stock needs `price_sent`).
LIVE = ("imported", "skipped")


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass
class ProductPlan:
    """What one products-out run will do."""

    send: list[dict] = field(default_factory=list)  # Ozon cards, changed since the last accepted one
    hashes: dict[str, str] = field(default_factory=dict)  # offer_id → card hash of what we send
    local_ids: dict[str, int] = field(default_factory=dict)  # offer_id → OpenCart product_id
    sources: dict[str, str] = field(default_factory=dict)  # offer_id → fingerprint of the row + settings
    missing: dict[int, list[str]] = field(default_factory=dict)  # product_id → reasons it is not sent
    unchanged: int = 0
    skipped_unmapped: int = 0


def missing_reasons(item: dict, empty: dict[int, str], attributes: list[dict] | None) -> list[str]:
    """What stops this card from being accepted, checked before sending (Ozon would fail it per item)."""
    reasons = []
    if not item["description_category_id"] or not item["type_id"]:
        reasons.append("category not mapped to an Ozon category and type")
    if not item["name"]:
        reasons.append("name is empty")
    if not item["primary_image"]:
        reasons.append("no image")
    for f in ("weight", "depth", "width", "height"):
        if item[f] <= 0:
            reasons.append(f"{f} missing or its unit unknown")
    if float(item["price"]) <= 0:
        reasons.append("price is 0")
    if attributes is None:
        if item["description_category_id"]:
            reasons.append("attributes of the Ozon category not loaded yet")
        return reasons
    given = {a["id"] for a in item["attributes"]}
    for a in attributes:
        if a.get("is_required") and a["id"] not in given:
            why = empty.get(a["id"], "not mapped")
            reasons.append(f"required attribute {a['id']} ({a.get('name', '')}): {why}")
    return reasons


def plan_products(rows: Iterable[dict], bindings: dict[int, tuple[str, dict]], cfg: OzonConfig,
                  attributes: dict[tuple[int, int], list[dict]], dictionaries: dict[int, list[dict]] | None = None,
                  *, full: bool = False) -> ProductPlan:
    """Cards whose content hash differs from the last accepted (or in-flight, or failed) one.

    bindings: product_id → (hash accepted by Ozon, binding data with `sent_hash`/`failed_hash`).
    """
    plan = ProductPlan()
    wanted = set(cfg.category_ids)
    settings_fp = mappers.settings_fingerprint(cfg, attributes, dictionaries)
    for row in rows:
        if wanted and not wanted.intersection(row.get("category_ids") or ()):
            plan.skipped_unmapped += 1
            continue
        accepted, data = bindings.get(row["product_id"], ("", {}))
        source = mappers.row_fingerprint(row, settings_fp)
        if not full and source == data.get("source"):  # same row, same settings → same card: skip the mapping
            plan.unchanged += 1
            continue
        category = cfg.category_for(row.get("category_ids") or [])
        item, empty = mappers.product_item(row, cfg, category, dictionaries)
        digest = mappers.card_hash(item)
        if not full and digest in (accepted, data.get("sent_hash"), data.get("failed_hash")):
            plan.unchanged += 1
            continue
        key = (item["description_category_id"], item["type_id"])
        reasons = missing_reasons(item, empty, attributes.get(key) if category else None)
        if reasons:
            plan.missing[row["product_id"]] = reasons
            continue
        plan.send.append(item)
        plan.hashes[item["offer_id"]] = digest
        plan.local_ids[item["offer_id"]] = row["product_id"]
        plan.sources[item["offer_id"]] = source
    return plan


@dataclass
class StockPlan:
    send: list[dict] = field(default_factory=list)  # [{offer_id, stock, warehouse_id}]
    locals: list[str] = field(default_factory=list)  # "<product_id>:<wh>" of each item in `send`, same order
    wait_seconds: float = 0.0  # >0: some pairs must wait for Ozon's per-pair interval; run again then
    unchanged: int = 0


def plan_stocks(rows: Iterable[dict], live: dict[int, str], sent: dict[str, tuple[str, datetime | None]],
                cfg: OzonConfig, now: datetime, *, full: bool = False) -> StockPlan:
    """Stock rows whose value changed; pairs updated < 30 s ago wait (only the latest value is ever sent).

    live: product_id → offer_id of cards that exist at Ozon. sent: "<product_id>:<wh>" → (value, synced_at).
    """
    plan = StockPlan()
    for row in rows:
        offer = live.get(row["product_id"])
        if offer is None:
            continue
        qty = str(mappers.free_stock(row))
        for wh in cfg.warehouse_ids:
            local = f"{row['product_id']}:{wh}"
            last, at = sent.get(local, ("", None))
            if qty == last and not full:
                plan.unchanged += 1
                continue
            if at is not None:
                age = (now - at).total_seconds()
                if age < STOCK_PAIR_SECONDS:
                    plan.wait_seconds = max(plan.wait_seconds, STOCK_PAIR_SECONDS - age)
                    continue
            plan.send.append({"offer_id": offer, "stock": int(qty), "warehouse_id": wh})
            plan.locals.append(local)
    return plan


@dataclass
class PricePlan:
    send: list[dict] = field(default_factory=list)
    product_ids: list[int] = field(default_factory=list)  # of each item in `send`, same order
    values: list[str] = field(default_factory=list)  # "price|old_price" of each item in `send`
    wait_seconds: float = 0.0
    unchanged: int = 0


def recent(times: list[str], now: datetime) -> list[str]:
    """ISO timestamps of the last hour (the per-product price counter)."""
    cutoff = now - timedelta(hours=1)
    return [t for t in times if datetime.fromisoformat(t) > cutoff]


def plan_prices(rows: Iterable[dict], live: dict[int, str], sent: dict[int, tuple[str, list[str]]], cfg: OzonConfig,
                now: datetime, *, full: bool = False) -> PricePlan:
    """Prices that changed; a product already at 10 updates this hour waits (deferred, never dropped)."""
    plan = PricePlan()
    for row in rows:
        offer = live.get(row["product_id"])
        if offer is None:
            continue
        item = mappers.price_item(row, cfg)
        value = f"{item['price']}|{item['old_price']}"
        last, times = sent.get(row["product_id"], ("", []))
        if value == last and not full:
            plan.unchanged += 1
            continue
        times = recent(times, now)
        if len(times) >= PRICE_UPDATES_PER_HOUR:
            oldest = min(datetime.fromisoformat(t) for t in times)
            plan.wait_seconds = max(plan.wait_seconds, (oldest + timedelta(hours=1) - now).total_seconds() + 1)
            continue
        item["offer_id"] = offer
        plan.send.append(item)
        plan.product_ids.append(row["product_id"])
        plan.values.append(value)
    return plan


def posting_window(watermark: datetime | None, now: datetime, cfg: OzonConfig) -> tuple[datetime, datetime]:
    """Poll from the last window's end minus an overlap (late-visible postings), never more than a year."""
    since = (watermark - timedelta(minutes=cfg.poll_overlap_minutes)) if watermark else now - timedelta(days=cfg.initial_days)
    return max(since, now - timedelta(days=365)), now


def status_target(posting_status: str, cfg: OzonConfig) -> int | None:
    """The OpenCart status a posting status moves its order to (None: leave the order alone)."""
    if posting_status in CANCELLED:
        return cfg.cancelled_status_id
    return cfg.status_map.get(posting_status)


def status_comment(event: dict) -> str:
    """History comment for an Ozon status change; a cancellation names who cancelled and Ozon's reason."""
    text = f"{OUR_COMMENT}{event['status']}"
    if event.get("reason"):
        who = f"{event['initiator']}: " if event.get("initiator") else ""
        text += f" — {who}{event['reason']}"
    return text


def should_apply(posting_status: str, current_status: int | None, cfg: OzonConfig) -> bool:
    """Ozon → shop status moves forward only: a shipped order is not set back by a posting still being packed."""
    return not (posting_status in BEFORE_SHIPPING and current_status in cfg.shipped_status_ids)


# --- shop → Ozon (status out) -------------------------------------------------------------------------


# rFBS steps the seller drives, in order; "ship" (pack) comes first for every posting.
STEPS = ("ship", "delivering", "last_mile", "delivered")
DISPUTED = ("arbitration", "client_arbitration")


def shop_action(order_status_id: int, comment: str, cfg: OzonConfig) -> str | None:
    """The furthest step an OpenCart history row asks of Ozon ("cancel", "delivered", "last_mile",
    "delivering", "ship"), None when it asks nothing (or we wrote it). FBS postings stop at "ship"."""
    if not cfg.status_out or comment.startswith(OUR_COMMENT):
        return None
    if order_status_id in cfg.cancel_status_ids:
        return "cancel"
    for step, ids in (("delivered", cfg.delivered_status_ids), ("last_mile", cfg.last_mile_status_ids),
                      ("delivering", cfg.delivering_status_ids), ("ship", cfg.shipped_status_ids)):
        if order_status_id in ids:
            return step
    return None


def is_rfbs(posting: dict) -> bool:
    """The seller's own delivery: Ozon documents `tpl_integration_type` `non_integrated` for it."""
    return posting.get("tpl_integration_type") == "non_integrated"


def advance_step(posting: dict, target: str, *, sent: bool, tracking: str = "") -> str:
    """Next call to move a posting towards `target` (one of STEPS), from its re-read state and
    `available_actions` (ozon.md §8: check them before acting).

    Returns a call ("ship", "resume", "tracking", "delivering", "last_mile", "delivered"), "wait" (our pack
    request is still being processed), "done" (nothing left for us) or "refused" (the posting does not allow it).
    """
    status, actions = posting.get("status", ""), posting.get("available_actions") or []
    if status in CANCELLED:
        return "refused"
    if status == "awaiting_packaging":
        if sent and posting.get("substatus") != "ship_failed":
            return "wait"
        return "ship" if "ship" in actions else "refused"
    if status in DISPUTED:  # the one use Ozon documents for /v2/posting/fbs/awaiting-delivery
        return "resume" if "awaiting_delivery" in actions else "refused"
    if not is_rfbs(posting) or target == "ship":
        return "done" if status == "awaiting_deliver" or status in SHIPPED else "refused"
    if tracking and posting.get("tracking_number") != tracking and "set_track_number" in actions:
        return "tracking"
    if status == "delivered":
        return "done"
    wanted = {"delivering": ("non_int_delivering",),
              "last_mile": ("non_int_delivering", "non_int_last_mile"),
              "delivered": ("non_int_delivering", "non_int_last_mile", "non_int_delivered")}[target]
    for action in wanted:
        if action in actions:
            return action.removeprefix("non_int_")
    # None of the wanted moves is offered: already there (delivering, past the last mile) or stuck.
    return "done" if status in SHIPPED and target != "delivered" else "refused"


def step_taken(step: str, posting: dict, tracking: str = "") -> bool:
    """Whether a re-read posting shows that a write of ours took effect (asked when its answer was lost)."""
    status, actions = posting.get("status", ""), posting.get("available_actions") or []
    if step == "ship":
        return status != "awaiting_packaging" or posting.get("substatus") == "ship_failed"
    if step == "resume":
        return status not in DISPUTED
    if step == "tracking":
        return bool(tracking) and posting.get("tracking_number") == tracking
    if step == "cancel":
        return status in CANCELLED
    if step == "delivered":
        return status == "delivered"
    action = {"delivering": "non_int_delivering", "last_mile": "non_int_last_mile"}[step]
    return status in ("delivering", "delivered") and action not in actions


def cancel_step(posting: dict) -> str:
    """"cancel", "done" (already cancelled) or "refused" (not in `available_actions`, e.g. on its way)."""
    if posting.get("status") in CANCELLED:
        return "done"
    return "cancel" if "cancel" in (posting.get("available_actions") or []) else "refused"


def packages_of(posting: dict) -> list[list[dict]]:
    """One package holding every line of the posting (Ozon's `product_id` here is the sku)."""
    qty: dict[int, int] = {}
    for p in posting.get("products") or []:
        qty[int(p["sku"])] = qty.get(int(p["sku"]), 0) + int(p.get("quantity") or 1)
    return [[{"product_id": sku, "quantity": n} for sku, n in qty.items()]]


def fit_quota(items: list[dict], new_offers: set[str], create_left: int, update_left: int) -> tuple[list[dict], int]:
    """The cards that fit Ozon's remaining daily quotas (creates for new offers, updates for the rest), in order;
    returns (to send, number held back until the quota resets)."""
    send, held = [], 0
    for item in items:
        if item["offer_id"] in new_offers:
            if create_left <= 0:
                held += 1
                continue
            create_left -= 1
        else:
            if update_left <= 0:
                held += 1
                continue
            update_left -= 1
        send.append(item)
    return send, held
