"""OneBox OS simulator: API v2 (token, orders, products, categories, brands, contacts, business processes,
order comments) and the legacy `/api/orders/add/`, with token expiry, validation errors and duplicate order codes.

Shapes follow docs/providers/onebox.md; its tags say where each comes from ([DOC] OneBox's pages, [WC]/[HUB]/[PY]
public code that talks to real boxes, [SIM] our own choice where nothing public shows it).

- `POST /api/v2/token/get/ {login, restapipassword}` → `{status: 1, dataArray: {token}}` [WC][HUB]; a wrong pair →
  200 `{status: 0, errorArray: ["Invalid login or restapipassword"]}` [SIM]. Tokens live `token_ttl` seconds [SIM];
  a call without a live token → 400 `{status: 0, errorArray: ["token in header not found"]}` [HUB].
- `POST /api/v2/<entity>/set/` takes a list (or a numeric-keyed object [WC]) of records and answers
  `{status: 1, dataArray: [id, …]}` in input order [WC][HUB]. Records are matched on `id`, else on the keys named
  in `findbyArray` (default per entity: order `externalid` [WC], product `articul` [HUB], contact
  `externalid`/`phone` [HUB], category/brand `code` [SIM]); matched → updated, else created. One invalid record
  refuses the whole call: `{status: 0, errorArray: ["<field>: <message>"]}` [SIM].
- `POST /api/v2/<entity>/get/ {filter, fields, limit, offset}` → `{status: 1, dataArray: [...]}` [WC][HUB];
  filters `id`, `externalid`, `articul`, `code`, `phones`, and `datemodifyfrom` (`Y-m-d H:i:s`) [SIM]; answers are
  sorted by `datemodify` then id [SIM].
- Names are not unique: only `code` is (of categories and brands, [DOC] https://1b.app/en/api/category/, /brand/);
  two records of one name are two records, as in a box.
- Categories name their parent by `parentcode` (our code) or `parentid` (OneBox's id); the box fills `parentid`
  from `parentcode`, and a code it does not know leaves both empty [DOC https://1b.app/en/api/category/].
- `POST /api/v2/workflow/get/` → business processes `{id, name}` [WC]; `workflowstatus/get/ {filter:{workflowid}}`
  → `{id, name, workflowid}` [SIM]; `comment/set/` → a comment on an order, unique on its `externalid` [SIM].
- Contacts: `name`, `namelast`, `phone`, `phones[]`, `externalid` [HUB]; `email`, `groupid` (its contact group),
  `datemodify` [SIM]. Contact groups (`contactgroup/get/`, people make them in OneBox: `add`): `{id, name,
  namelang: {language code: name}, datemodify}` [SIM].
- `GET|POST /api/orders/add/` (legacy, [DOC]): `login` + md5 `password`; an `ordercode` already used → error
  "Order with this ordercode already exists" [DOC says "the API will throw an error"; wording SIM].

Control methods (also over `/_sim/…`): `set_order_status` (a OneBox user moves an order), `edit` (a OneBox user
changes any record), `edit_after_get` (the same, between two pages of a read: the list moves under the reader),
`edit_during_get` (two saves during one read: the earlier lands after the answer, the later is in it),
`add` (a record created in OneBox), `delete` (one deleted there), `refuse_next` (the next N `set` calls of an entity are
refused with a validation error), `duplicate_next` (the next `order/set` answers "already exists" after storing
the order, as a box that created it during a lost answer would), `expire_tokens`, `set_token_ttl`, `advance`,
`records`, `calls`.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
import time
from datetime import datetime, timezone

from .base import Request, Response, Simulator

V2 = "/api/v2"
ENTITIES = ("order", "product", "category", "brand", "contact", "contactgroup", "comment")
FINDBY = {"order": ("externalid",), "product": ("articul",), "contact": ("externalid", "phone"),
          "category": ("code",), "brand": ("code",), "comment": ("externalid",), "contactgroup": ("name",)}
REQUIRED = {"order": ("externalid",), "product": ("name",), "category": ("name",), "brand": ("name",),
            "contact": (), "comment": ("orderid", "text"), "contactgroup": ("name",)}
FMT = "%Y-%m-%d %H:%M:%S"


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime(FMT)


def _parse(text: str) -> float | None:
    try:
        return datetime.strptime(str(text), FMT).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


class OneBoxSimulator(Simulator):
    """One OneBox box: one API employee, its business processes and records."""

    name = "onebox"
    routes = [
        ("POST", V2 + r"/token/get/?", "handle_token"),
        ("POST", V2 + r"/(?P<entity>[a-z]+)/set/?", "handle_set"),
        ("POST", V2 + r"/(?P<entity>[a-z]+)/get/?", "handle_get"),
        ("GET", r"/api/orders/add/?", "handle_legacy_order"),
        ("POST", r"/api/orders/add/?", "handle_legacy_order"),
    ]
    control_methods = Simulator.control_methods + (
        "set_order_status", "edit", "add", "delete", "refuse_next", "duplicate_next", "expire_tokens", "set_token_ttl",
        "advance", "records", "calls", "edit_after_get", "edit_during_get",
    )

    def __init__(self, *, login: str = "api@box.example", password: str = "api-pass", token_ttl: float = 3000.0,
                 workflows: dict | None = None, **kw):
        super().__init__(**kw)
        self.login, self.password = login, password
        self.token_ttl = float(token_ttl)
        # business process → its statuses (first = start status) [SIM: names and ids]
        self.workflows = workflows or {"Orders": ["New", "Confirmed", "Shipped", "Done", "Cancelled"]}
        self._state_lock = threading.RLock()
        self.reset_state()

    def reset_state(self) -> None:
        with self._state_lock:
            self._tokens: dict[str, float] = {}
            self._records: dict[str, dict[int, dict]] = {e: {} for e in ENTITIES}
            # entity → (key, value) → id: findbyArray lookups stay O(1) for a 50,000-product catalogue
            self._index: dict[str, dict[tuple[str, str], int]] = {e: {} for e in ENTITIES}
            self._ids = itertools.count(101)
            self._offset = 0.0
            self._calls: dict[str, int] = {}
            self._refuse: dict[str, list] = {}
            self._duplicate = 0
            self._edits_after_get: list[dict] = []
            self._edits_during_get: list[dict] = []
            self._workflow_rows, self._status_rows = [], []
            sid = itertools.count(11)
            for wid, (wname, statuses) in enumerate(self.workflows.items(), start=1):
                self._workflow_rows.append({"id": wid, "name": wname})
                self._status_rows += [{"id": next(sid), "name": s, "workflowid": wid} for s in statuses]

    # time -----------------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        self._offset += float(seconds)
        return self._offset

    def account_of(self, req: Request) -> str | None:
        return req.header("token")

    def empty(self, req: Request) -> Response:
        return _ok({})

    # auth -----------------------------------------------------------------------------------------
    def handle_token(self, req: Request) -> Response:
        self._count("token/get")
        body = _body(req)
        if not isinstance(body, dict) or body.get("login") != self.login or body.get("restapipassword") != self.password:
            return _refused(["Invalid login or restapipassword"])
        token = secrets.token_hex(16)
        with self._state_lock:
            self._tokens[token] = self.now() + self.token_ttl
        return _ok({"token": token})

    def _authorised(self, req: Request) -> bool:
        token = req.header("token") or ""
        with self._state_lock:
            return self._tokens.get(token, 0) > self.now()

    # set / get ------------------------------------------------------------------------------------
    def handle_set(self, req: Request, entity: str) -> Response:
        if not self._authorised(req):
            return _refused(["token in header not found"], 400)
        if entity not in ENTITIES:
            return self.not_found(req)
        self._count(f"{entity}/set")
        body = _body(req)
        if isinstance(body, dict) and all(str(k).isdigit() for k in body):  # {"0": {...}} [WC]
            body = [body[k] for k in sorted(body, key=int)]
        if not isinstance(body, list) or not body or not all(isinstance(r, dict) for r in body):
            return _refused(["Відсутній перший елемент масиву"])  # [WC] quotes this wording for a bad root
        with self._state_lock:
            refusal = self._take_refusal(entity)
            if refusal:
                return _refused([refusal])
            for r in body:
                if self._find(entity, r) is not None:
                    continue  # an update names only what changes [SIM]
                missing = [f for f in REQUIRED[entity] if not str(r.get(f) or "").strip()]
                if entity == "contact" and not (r.get("phone") or r.get("phones") or r.get("email") or r.get("name")):
                    missing.append("phone")
                if missing:
                    return _refused([f"{f}: field is required" for f in missing])
                if entity == "comment" and int(r.get("orderid") or 0) not in self._records["order"]:
                    return _refused([f"orderid: order {r.get('orderid')} not found"])
            ids = [self._upsert(entity, r) for r in body]
            if entity == "order" and self._duplicate:
                self._duplicate -= 1
                return _refused([f"Order with externalid {body[0].get('externalid')} already exists"])
        return _ok(ids)

    def _find(self, entity: str, r: dict) -> dict | None:
        """The record `r` updates: by `id`, else by the first `findbyArray` key that matches."""
        table = self._records[entity]
        if r.get("id"):
            return table.get(int(r["id"]))
        for key in r.get("findbyArray") or FINDBY[entity]:
            value = str(r.get(key) or "").strip()
            rid = self._index[entity].get((key, value)) if value else None
            if rid is not None:
                return table[rid]
        return None

    def _reindex(self, entity: str, row: dict) -> None:
        index = self._index[entity]
        for key in ("externalid", "articul", "code", "phone", "name"):
            if row.get(key):
                index[(key, str(row[key]))] = row["id"]
        for phone in row.get("phones") or []:
            index[("phone", str(phone))] = row["id"]

    def _upsert(self, entity: str, r: dict) -> int:
        table = self._records[entity]
        found = self._find(entity, r)
        clean = {k: v for k, v in r.items() if k not in ("findbyArray", "id")}
        if entity == "order":
            clean.setdefault("workflowid", self._workflow_rows[0]["id"])
            if not clean.get("statusid") and not (found or {}).get("statusid"):
                clean["statusid"] = self._start_status(int(clean["workflowid"]))
        if entity == "category" and "parentcode" in clean:  # [DOC] category page: an unknown code leaves it empty
            parent = self._index["category"].get(("code", str(clean["parentcode"] or ""))) if clean["parentcode"] else None
            clean["parentid"] = parent or 0
            clean["parentcode"] = clean["parentcode"] if parent else ""
        if found is None:
            rid = next(self._ids)
            found = table[rid] = {"id": rid, "cdate": _stamp(self.now())}
        changed = any(found.get(k) != v for k, v in clean.items())
        found.update(clean)
        self._reindex(entity, found)
        if changed or "datemodify" not in found:
            found["datemodify"], found["_ts"] = _stamp(self.now()), self.now()
        return found["id"]

    def handle_get(self, req: Request, entity: str) -> Response:
        if not self._authorised(req):
            return _refused(["token in header not found"], 400)
        self._count(f"{entity}/get")
        body = _body(req) or {}
        filt = body.get("filter") or {}
        if "id" in body:
            filt = {**filt, "id": body["id"]}
        if entity == "workflow":
            return _ok(list(self._workflow_rows))
        if entity == "workflowstatus":
            wid = filt.get("workflowid")
            return _ok([s for s in self._status_rows if wid in (None, "", s["workflowid"], str(s["workflowid"]))])
        if entity not in ENTITIES:
            return self.not_found(req)
        during, began = self._due(self._edits_during_get, entity), self.now()
        for d in during:  # the read takes `seconds`; the later save lands in time for the answer
            self.advance(d["seconds"])
            self.edit(entity, *d["shown"][:2], **d["shown"][2])
        with self._state_lock:
            rows = [r for r in self._records[entity].values() if _matches(r, filt)]
        rows.sort(key=lambda r: (r.get("_ts", 0), r["id"]))
        offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 100)
        fields = body.get("fields") or []
        out = [_public(r, fields) for r in rows[offset:offset + min(limit, 500)]]
        for d in during:  # the earlier save, stamped when the read began, lands after the answer was read
            self._edit(self._row(entity, *d["late"][:2]), d["late"][2], at=began)
        for due in self._due(self._edits_after_get, entity):
            self.edit(entity, due["key"], due["value"], **due["fields"])
        return _ok(out)

    def _due(self, faults: list[dict], entity: str) -> list[dict]:
        """The faults of `entity` whose count of gets ran out with this one (taken off the list)."""
        with self._state_lock:
            due = []
            for d in [d for d in faults if d["entity"] == entity]:
                d["gets"] -= 1
                if d["gets"] <= 0:
                    faults.remove(d)
                    due.append(d)
            return due

    # legacy -----------------------------------------------------------------------------------------
    def handle_legacy_order(self, req: Request) -> Response:
        self._count("legacy/orders/add")
        args = {**req.form(), **{k: v[-1] for k, v in req.query.items()}} if req.method == "POST" else \
            {k: v[-1] for k, v in req.query.items()}
        md5 = hashlib.md5(self.password.encode()).hexdigest()
        if args.get("login") != self.login or args.get("password") != md5:
            return Response.json({"status": "error", "errors": ["Wrong login or password"]})
        code = (args.get("ordercode") or "").strip()
        if not code:
            return Response.json({"status": "error", "errors": ["ordercode is required"]})
        with self._state_lock:
            if any(str(o.get("externalid")) == code for o in self._records["order"].values()):
                return Response.json({"status": "error", "errors": ["Order with this ordercode already exists"]})
            lines, i = [], 0
            while f"productArray[{i}][name]" in args or f"productArray[{i}][id]" in args:
                lines.append({k: args.get(f"productArray[{i}][{k}]") for k in ("id", "name", "price", "count")})
                i += 1
            rid = self._upsert("order", {"externalid": code, "name": args.get("name") or code,
                                         "clientphone": args.get("clientphone"), "clientemail": args.get("clientemail"),
                                         "sum": args.get("sum"), "products": lines, "comment": args.get("comments")})
        return Response.json({"status": "ok", "id": rid})

    # control ----------------------------------------------------------------------------------------
    def _start_status(self, workflowid: int) -> int:
        return next(s["id"] for s in self._status_rows if s["workflowid"] == workflowid)

    def status_id(self, name: str, workflow: str | None = None) -> int:
        wid = next((w["id"] for w in self._workflow_rows if workflow in (None, w["name"])), 1)
        return next(s["id"] for s in self._status_rows if s["name"] == name and s["workflowid"] == wid)

    def set_order_status(self, externalid: str, status: str | int) -> dict:
        """A OneBox user moves the order to another status of its business process."""
        with self._state_lock:
            order = next(o for o in self._records["order"].values() if o.get("externalid") == externalid)
            sid = int(status) if str(status).isdigit() else self.status_id(str(status))
            return self._edit(order, {"statusid": sid})

    def edit(self, entity: str, key: str, value, **fields) -> dict:
        """A OneBox user changes a record found by `key` == `value` (e.g. ("product", "articul", "SKU-1"))."""
        with self._state_lock:
            return self._edit(self._row(entity, key, value), fields)

    def _row(self, entity: str, key: str, value) -> dict:
        return next(r for r in self._records[entity].values() if str(r.get(key)) == str(value))

    def edit_after_get(self, entity: str, gets: int, key: str, value, **fields) -> None:
        """Fault: a OneBox user edits a record (as `edit`) right after the `gets`-th next `<entity>/get` is answered —
        between two pages of a read. Lists are in change-date order [SIM], so the record moves to the end and every
        record after it one place back: the first record of the next page slips onto the page already read."""
        with self._state_lock:
            self._edits_after_get.append({"entity": entity, "gets": int(gets), "key": key, "value": value,
                                          "fields": fields})

    def edit_during_get(self, entity: str, gets: int, late: list, shown: list, seconds: float = 2.0) -> None:
        """Fault: while the `gets`-th next `<entity>/get` is read, two OneBox users save a record each. `late`
        ([key, value, {fields}]) is saved as the read begins but its save lands only after the answer was read (a
        box whose save stamps the change date before it commits); `shown` is saved `seconds` later and is in the
        answer. The answer's newest change date is then past a change it does not hold."""
        with self._state_lock:
            self._edits_during_get.append({"entity": entity, "gets": int(gets), "late": list(late),
                                           "shown": list(shown), "seconds": float(seconds)})

    def delete(self, entity: str, key: str, value) -> None:
        """A OneBox user deletes a record (the category and brand pages document `/delete/` [DOC]): `get` no
        longer answers it."""
        with self._state_lock:
            table = self._records[entity]
            row = next(r for r in table.values() if str(r.get(key)) == str(value))
            del table[row["id"]]
            self._index[entity] = {k: rid for k, rid in self._index[entity].items() if rid != row["id"]}

    def add(self, entity: str, **fields) -> dict:
        """A record created in OneBox by a person."""
        with self._state_lock:
            rid = self._upsert(entity, {**fields, "findbyArray": ["__never__"]})
            return _public(self._records[entity][rid], [])

    def _edit(self, row: dict, fields: dict, at: float | None = None) -> dict:
        with self._state_lock:
            row.update(fields)
            self._reindex(next(e for e, t in self._records.items() if t.get(row["id"]) is row), row)
            at = self.now() if at is None else at
            row["datemodify"], row["_ts"] = _stamp(at), at
            return _public(row, [])

    def refuse_next(self, entity: str, message: str = "name: field is required", count: int = 1) -> None:
        with self._state_lock:
            self._refuse.setdefault(entity, []).extend([message] * int(count))

    def _take_refusal(self, entity: str) -> str:
        queue = self._refuse.get(entity) or []
        return queue.pop(0) if queue else ""

    def duplicate_next(self, count: int = 1) -> None:
        with self._state_lock:
            self._duplicate = int(count)

    def expire_tokens(self) -> int:
        with self._state_lock:
            n = len(self._tokens)
            self._tokens.clear()
            return n

    def set_token_ttl(self, seconds: float) -> None:
        self.token_ttl = float(seconds)

    def records(self, entity: str) -> list[dict]:
        with self._state_lock:
            return [_public(r, []) for r in self._records[entity].values()]

    def calls(self) -> dict[str, int]:
        with self._state_lock:
            return dict(self._calls)

    def state(self) -> dict:
        with self._state_lock:
            return {"records": {e: len(t) for e, t in self._records.items()}, "calls": dict(self._calls)}

    def _count(self, name: str) -> None:
        with self._state_lock:
            self._calls[name] = self._calls.get(name, 0) + 1


def _body(req: Request):
    try:
        return req.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _ok(data) -> Response:
    return Response.json({"status": 1, "dataArray": data, "errorArray": []})


def _refused(errors: list[str], http: int = 200) -> Response:
    return Response.json({"status": 0, "dataArray": [], "errorArray": errors}, http)


def _matches(row: dict, filt: dict) -> bool:
    for key, want in filt.items():
        if key == "datemodifyfrom":
            since = _parse(want)
            if since is not None and row.get("_ts", 0) < since:
                return False
            continue
        wanted = [str(w) for w in (want if isinstance(want, list) else [want])]
        have = [str(x) for x in (row.get("phones") or [])] + [str(row.get("phone") or "")] if key == "phones" \
            else [str(row.get(key) if row.get(key) is not None else "")]
        if not set(wanted) & set(have):
            return False
    return True


def _public(row: dict, fields: list) -> dict:
    out = {k: v for k, v in row.items() if not k.startswith("_")}
    return {k: v for k, v in out.items() if k in fields or k == "id"} if fields else out
