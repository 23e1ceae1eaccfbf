"""Risk score per phone across the stores of the hub: how this number's COD orders ended before.

Counts per (phone, store) live in `PhoneTally`, keyed by the number's keyed hash (core.personal_data.phone_key),
never the number. A store counts its own rows always, and other stores' rows only
when both share (`risk_share`, off by default: an agency's separate clients may not pool their customers). The
reason a person reads gives counts only — never which store, never another store's order or customer.

Score = 3 × refused + 2 × cancelled + 1 × unanswered − 1 × confirmed − 2 × delivered. The store's rules act on it
(`apply_rules`): hold for a person above one score, always confirm above another (even a customer the other
rules would skip), skip confirmation for proven customers; never an automatic cancel.

API: `record(store, phone, outcome, n=1)` (outcome one of OUTCOMES; the confirmation flow records decided cases,
`outcomes.py` records what the shop's order history says later: refused/returned, delivered, cancelled in the
shop), `lookup(store, phone) -> Score`, `lookup_many(store_phones) -> {(store_id, phone): Score}` for a page of
rows, `set_sharing(store, on)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from ocbridge.core import clock, personal_data
from ocbridge.integrations.cod_confirm.models import PhoneTally

OUTCOMES = ("confirmed", "cancelled", "unanswered", "refused", "delivered")
WEIGHTS = {"refused": 3, "cancelled": 2, "unanswered": 1, "confirmed": -1, "delivered": -2}


@dataclass(frozen=True)
class Score:
    value: int
    counts: dict[str, int]

    @property
    def known(self) -> bool:
        return any(self.counts.values())

    @property
    def reason(self) -> str:
        """Counts only, e.g. "2 refused, 1 cancelled, 3 confirmed" (stored English; the page translates)."""
        parts = [f"{n} {name}" for name in OUTCOMES if (n := self.counts.get(name, 0))]
        return ", ".join(parts) or "no history"


def _sharing(store) -> bool:
    from ocbridge.core.models import Integration

    settings = Integration.objects.filter(store=store, kind="cod_confirm").values_list("settings", flat=True).first()
    return bool((settings or {}).get("risk_share"))


def record(store, phone: str, outcome: str, n: int = 1) -> None:
    """Count one outcome for this phone in this store (the caller's transaction; callers record each case once).
    n=-1 takes one back: the shop changed its mind about an order (delivered, then returned)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if not phone or n == 0:
        return
    phone = personal_data.phone_key(phone)  # tallies never hold the number itself
    if n < 0:  # never below zero, whatever came before
        PhoneTally.objects.filter(phone=phone, store_id=_pk(store), **{f"{outcome}__gte": -n}).update(
            **{outcome: F(outcome) + n}, updated=clock.now())
        return
    hit = PhoneTally.objects.filter(phone=phone, store_id=_pk(store)).update(**{outcome: F(outcome) + n}, updated=clock.now())
    if hit:
        return
    try:
        with transaction.atomic():
            PhoneTally.objects.create(phone=phone, store_id=_pk(store), shared=_sharing(store), **{outcome: n})
    except IntegrityError:  # another worker created it first
        PhoneTally.objects.filter(phone=phone, store_id=_pk(store)).update(**{outcome: F(outcome) + n}, updated=clock.now())


def lookup(store, phone: str, *, sharing: bool | None = None) -> Score:
    """The score of `phone` as `store` may see it: its own rows, plus shared rows when it shares too."""
    if not phone:
        return Score(0, dict.fromkeys(OUTCOMES, 0))
    shares = _sharing(store) if sharing is None else sharing
    phone = personal_data.phone_key(phone)
    # One statement on the (phone, store) unique index, no ORM query building: well under 1 ms at a million
    # phones (bench/cod_flow.py part 4).
    table = PhoneTally._meta.db_table
    where = "phone = %s AND (store_id = %s OR shared)" if shares else "phone = %s AND store_id = %s"
    sums = ", ".join(f"COALESCE(SUM({name}), 0)" for name in OUTCOMES)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {sums} FROM {table} WHERE {where}", [phone, _pk(store)])
        row = cur.fetchone()
    counts = {name: int(n) for name, n in zip(OUTCOMES, row, strict=True)}
    return Score(sum(WEIGHTS[name] * n for name, n in counts.items()), counts)


def lookup_many(pairs) -> dict[tuple[int, str], Score]:
    """Scores for (store, phone) pairs of one page (a list, the overview's "need you" rows): one statement per
    store, each on the (phone, store) index; sharing read once per store."""
    by_store: dict[int, set[str]] = {}
    numbers: dict[str, str] = {}  # key → the number asked about
    for store, phone in pairs:
        if phone:
            numbers[personal_data.phone_key(phone)] = phone
            by_store.setdefault(_pk(store), set()).add(personal_data.phone_key(phone))
    out: dict[tuple[int, str], Score] = {}
    table = PhoneTally._meta.db_table
    sums = ", ".join(f"SUM({name})" for name in OUTCOMES)
    for store_id, phones in by_store.items():
        shares = _sharing(store_id)
        marks = ", ".join(["%s"] * len(phones))
        where = f"phone IN ({marks}) AND " + ("(store_id = %s OR shared)" if shares else "store_id = %s")
        with connection.cursor() as cur:
            cur.execute(f"SELECT phone, {sums} FROM {table} WHERE {where} GROUP BY phone", [*phones, store_id])
            for phone, *row in cur.fetchall():
                counts = {name: int(n or 0) for name, n in zip(OUTCOMES, row, strict=True)}
                out[(store_id, numbers[phone])] = Score(sum(WEIGHTS[k] * v for k, v in counts.items()), counts)
    return out


def annotate(cases) -> None:
    """Set `.risk` (a Score, or None without a number) on each Confirmation of a page, in one query per store."""
    scores = lookup_many((c.store_id, c.phone) for c in cases)
    for c in cases:
        c.risk = scores.get((c.store_id, c.phone), Score(0, dict.fromkeys(OUTCOMES, 0))) if c.phone else None


def _pk(store) -> int:
    return store if isinstance(store, int) else store.pk


def set_sharing(store, on: bool) -> int:
    """A store switched sharing on or off: its rows follow at once (returns how many rows changed)."""
    return PhoneTally.objects.filter(store=store).exclude(shared=on).update(shared=on)


def apply_rules(score: Score, cfg, *, skip: str | None) -> tuple[str, str | None]:
    """What the store's risk rules do with a new order: ("hold", why), ("confirm", why overriding a skip),
    ("skip", why) or ("", skip) — the order's own skip reason, unchanged."""
    if cfg.risk_hold_above is not None and score.value > cfg.risk_hold_above:
        return "hold", f"risk score {score.value} is above {cfg.risk_hold_above} ({score.reason})"
    if skip and cfg.risk_confirm_above is not None and score.value > cfg.risk_confirm_above:
        return "confirm", None
    proven = score.counts["refused"] == 0 and score.counts["cancelled"] == 0
    if not skip and cfg.risk_skip_proven and proven and score.counts["delivered"] >= cfg.risk_skip_proven:
        return "skip", f"proven customer ({score.reason})"
    return "", skip
