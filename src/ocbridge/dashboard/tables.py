"""Lists as people expect them: sortable columns, numbered pages, a total — cheap on a large hub.

Pages are numbered over a window of at most `WINDOW` rows (counted with a LIMIT, never the whole table); past it,
"older" moves the window by id (`before`, the keyset the list used before), so page 3 of a million-row log costs
what page 3 of a small one does. Sorting is by a column the view allows, newest first by default, id as the tie.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

PAGE_SIZE = 50
WINDOW = 10_000


@dataclass
class TablePage:
    rows: list
    number: int
    pages: int
    total: int  # rows in the window (WINDOW + 1 means "more than WINDOW")
    capped: bool
    sort: str
    size: int = PAGE_SIZE
    older_before: int | None = None  # keyset link past the window
    first: bool = True  # no `before`: the window starts at the newest row
    numbers: list = field(default_factory=list)  # page numbers to link, None for a gap

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.size + len(self.rows)


def _numbers(current: int, pages: int) -> list:
    wanted = {1, pages, current - 2, current - 1, current, current + 1, current + 2}
    out, last = [], 0
    for n in sorted(x for x in wanted if 1 <= x <= pages):
        if n - last > 1:
            out.append(None)
        out.append(n)
        last = n
    return out


def table_page(qs: QuerySet, params, *, sorts: dict[str, str], default: str = "-id",
               size: int = PAGE_SIZE) -> TablePage:
    """One page of `qs` for the request's `sort`, `page` and `before` (keys of `sorts` name allowed columns)."""
    sort = params.get("sort") or default
    field_name = sorts.get(sort.lstrip("-"))
    if field_name is None:
        sort, field_name = default, sorts.get(default.lstrip("-"), "id")
    order = ("-" if sort.startswith("-") else "") + field_name
    before = params.get("before", "")
    if before.isdigit():
        qs = qs.filter(pk__lt=int(before))
    total = qs.order_by()[: WINDOW + 1].count()
    capped = total > WINDOW
    pages = max(1, -(-min(total, WINDOW) // size))
    try:
        number = min(max(1, int(params.get("page", 1))), pages)
    except ValueError:
        number = 1
    tie = "-pk" if order.startswith("-") else "pk"
    rows = list(qs.order_by(order, tie)[(number - 1) * size: number * size])
    older = None
    if capped and number == pages and order in ("-id", "-pk", "-created"):
        older = rows[-1].pk if rows else None
    return TablePage(rows, number, pages, total, capped, sort, size, older, not before.isdigit(),
                     _numbers(number, pages))
