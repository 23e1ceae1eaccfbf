"""OpenCart's native API (2.3 / 3.0 / 4.0.0–4.0.1 / 4.0.2+): login and add-history, with the real traps.

Writes into the same shop database the tests read (PyMySQL for mysql://… URLs, sqlite3 for sqlite:///…), the
way OpenCart's model does: order status + date_modified, an order_history row, the stock rule. Traps as
observed on real shops (opencart.md §3.3 and §7): a wrong key answers `[]` on 2.3/3.0; an IP outside the
allowlist gets OpenCart's own message; on 4.0 a bad token answers an HTML 500 and a missing token an HTML 404;
a missing order_status_id sets status 0 and still says success; tokens expire after an hour idle.

Sessions as OpenCart keeps them: a login runs the storefront's session start first (no api_token yet), so its reply
sets the session cookie — `OCSESSID` on 3.0/4.0 (catalog/controller/startup/session.php), PHP's `PHPSESSID` on 2.3 —
reusing the id the request's cookie carried. 3.0/4.0 then start a new session for the API (its id is the
api_token); 2.3 keeps the API session inside that very PHP session (`$session->start($this->session->getId(),
'temp_session_…')`, api_session.session_id = the cookie's id). `sessions()` shows each token's session.

The client's address is what `client_ip` says (default 127.0.0.1), so tests can play an unlisted egress IP.
Stdlib (+ PyMySQL) only; imports nothing from ocbridge.
"""

from __future__ import annotations

import html
import json
import secrets
import sqlite3
import threading
import urllib.parse

from ocbridge.simulators.base import Response, Simulator

IDLE_SECONDS = 3600  # api_session rows older than 1 h are deleted on each call (opencart.md §3.1)

MSG = {
    "login_ok": "Success: API session successfully started!",
    "history_ok": "Success: You have modified orders!",
    "key": "Warning: Incorrect API Key!",
    "ip": "Warning: Your IP {ip} is not allowed to access this API!",
    "permission": "Warning: You do not have permission to access the API!",
    "order": "Warning: Order could not be found!",
}
HTML_404 = "<!DOCTYPE html><html><head><title>The page you requested cannot be found!</title></head><body>" \
           "<h1>The page you requested cannot be found!</h1></body></html>"
HTML_500 = "<br />\n<b>Fatal error</b>: Uncaught Error: Call to a member function get() on null in " \
           "/var/www/html/system/engine/action.php:89<br />"


def _html(status: int, body: str) -> Response:
    return Response(status, body.encode(), {"Content-Type": "text/html; charset=UTF-8"})


# Replies real shops give after the history was written (issue #12; opencart.md §7):
AFTER_WRITE = {
    # PHP 8 on 3.0: a warning printed before the JSON (display_errors on), HTTP 200
    "php_warning": lambda: _html(200, '<br />\n<b>Warning</b>:  Undefined array key "customer_id" in '
                                      "/var/www/html/catalog/model/checkout/order.php on line 271<br />\n"
                                      + json.dumps({"success": MSG["history_ok"]})),
    # 2.3 sends the mails inside the model, after the status and history rows: an SMTP failure is fatal there
    "mail_failure": lambda: _html(200, "<br />\n<b>Fatal error</b>:  Uncaught Exception: Error: SMTP error: "
                                       "Could not connect to smtp.example.com in /var/www/html/system/library/"
                                       "mail/smtp.php:142<br />"),
    # a reverse proxy that gave up waiting although PHP finished
    "proxy_502": lambda: _html(502, "<html><head><title>502 Bad Gateway</title></head><body><center>"
                                    "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"),
    "proxy_504": lambda: _html(504, "<html><head><title>504 Gateway Time-out</title></head><body><center>"
                                    "<h1>504 Gateway Time-out</h1></center><hr><center>nginx</center></body></html>"),
    # 4.0: an after-event (mail, statistics, an extension's) throws once the model is done
    "html_500_event": lambda: _html(500, "<br />\n<b>Fatal error</b>:  Uncaught Error: Call to a member function "
                                         "format() on null in /var/www/html/catalog/controller/mail/order.php:"
                                         "358<br />"),
}


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


class _ShopDB:
    """Minimal DB access for the simulator: `%s` placeholders on both backends."""

    def __init__(self, url: str):
        self.url = url
        parsed = urllib.parse.urlsplit(url)
        self.sqlite = parsed.scheme.startswith("sqlite")
        if self.sqlite:
            self.path = url.split(":///", 1)[1]
        else:
            self.params = {"host": parsed.hostname or "127.0.0.1", "port": parsed.port or 3306,
                           "user": urllib.parse.unquote(parsed.username or "root"),
                           "password": urllib.parse.unquote(parsed.password or ""),
                           "database": parsed.path.lstrip("/"), "charset": "utf8mb4", "autocommit": True}
        self.lock = threading.Lock()

    def connect(self):
        if self.sqlite:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            return conn
        import pymysql

        conn = pymysql.connect(**self.params)
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = 'NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'")
        return conn

    def run(self, conn, sql: str, args: tuple = ()) -> list[tuple]:
        q = '"' if self.sqlite else "`"
        sql = sql.replace("`", q)
        if self.sqlite:
            sql = sql.replace("%s", "?").replace("NOW()", "datetime('now')")
        cur = conn.cursor()
        try:
            cur.execute(sql, args)
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()


class OpenCartApiSimulator(Simulator):
    """One shop's `index.php?route=…` API for one OpenCart version ("2.3", "3.0", "4.0.0" or "4.0")."""

    name = "opencart"
    routes = [("POST", r"/index\.php", "index"), ("GET", r"/index\.php", "index")]
    control_methods = Simulator.control_methods + ("set_client_ip", "advance", "sessions", "end_session",
                                                   "answer_after_write")

    def __init__(self, db_url: str, *, version: str = "3.0", prefix: str = "oc_", **kwargs):
        super().__init__(**kwargs)
        if version not in ("2.3", "3.0", "4.0.0", "4.0"):
            raise ValueError(f"unsupported version {version!r}")
        self.version = version
        self.prefix = prefix
        self.db = _ShopDB(db_url)
        self.client_ip = "127.0.0.1"
        self.offset = 0.0  # seconds added to the simulator's clock (token idle expiry)
        self._sessions: dict[str, dict] = {}
        self._after_write: list[str] = []  # reply shapes for the next successful history writes

    # control ------------------------------------------------------------------------------------------
    def set_client_ip(self, ip: str) -> None:
        """Pretend requests come from this REMOTE_ADDR (the hub's egress address as the shop sees it)."""
        self.client_ip = ip

    def advance(self, seconds: float) -> None:
        """Move the shop's clock forward (idle tokens expire after an hour)."""
        self.offset += float(seconds)

    def answer_after_write(self, shape: str, count: int = 1) -> None:
        """The next `count` history calls write as usual, then answer with one of the failure shapes real shops
        give after they wrote (AFTER_WRITE): the reply says nothing clear, the order is updated all the same."""
        if shape not in AFTER_WRITE:
            raise ValueError(f"unknown reply shape {shape!r}; use one of {sorted(AFTER_WRITE)}")
        self._after_write.extend([shape] * int(count))

    def sessions(self) -> dict:
        """token → api_id, ip, last, session_id (the API session's id), cookie (the session id its login set)."""
        return {t: dict(s) for t, s in self._sessions.items()}

    def end_session(self, token: str) -> None:
        """The shop drops one API session, as the admin's API user page does (its Session tab)."""
        self._sessions.pop(token, None)

    def reset_state(self) -> None:
        self._sessions.clear()
        self._after_write.clear()
        self.offset = 0.0
        self.client_ip = "127.0.0.1"

    def account_of(self, req) -> str | None:
        return None

    def _now(self) -> float:
        import time

        return time.time() + self.offset

    # dispatch ---------------------------------------------------------------------------------------
    def index(self, req) -> Response:
        route = req.arg("route", "") or ""
        v = self.version
        login_route = "api/account/login" if v.startswith("4") else "api/login"
        history_route = {"2.3": "api/order/history", "3.0": "api/order/history",
                         "4.0.0": "api/sale/order|addHistory", "4.0": "api/sale/order.addHistory"}[v]
        if route == login_route and req.method == "POST":
            return self.login(req)
        if route == history_route and req.method == "POST":
            return self.add_history(req)
        if v.startswith("4"):
            return Response(404, HTML_404.encode(), {"Content-Type": "text/html; charset=utf-8"})
        return Response.json({"error": MSG["permission"]}) if route.startswith("api/") else \
            Response(404, HTML_404.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def _t(self, name: str) -> str:
        return f"`{self.prefix}{name}`"

    def login(self, req) -> Response:
        name = "PHPSESSID" if self.version == "2.3" else "OCSESSID"
        sid = _cookies(req.header("cookie", "")).get(name) or secrets.token_hex(13)
        resp = self._login(req, sid)
        resp.headers["Set-Cookie"] = f"{name}={sid}; path=/"
        return resp

    def _login(self, req, sid: str) -> Response:
        form = req.form()
        key = form.get("key", "")
        username = form.get("username", "Default" if self.version == "3.0" else "")
        conn = self.db.connect()
        try:
            with self.db.lock:
                if self.version == "2.3":
                    rows = self.db.run(conn, f"SELECT api_id FROM {self._t('api')} WHERE `key` = %s AND status = 1",
                                       (key,))
                else:
                    rows = self.db.run(conn, f"SELECT api_id FROM {self._t('api')} WHERE username = %s AND `key` = %s "
                                             "AND status = 1", (username, key))
                if not rows:
                    if self.version.startswith("4"):
                        return Response.json({"error": MSG["key"]})
                    return Response.json([])  # T6: nothing written into $json
                api_id = rows[0][0]
                ips = {r[0] for r in self.db.run(conn, f"SELECT ip FROM {self._t('api_ip')} WHERE api_id = %s",
                                                 (api_id,))}
                if self.client_ip not in ips:
                    ip_msg = MSG["ip"].format(ip=self.client_ip)
                    if self.version.startswith("4"):
                        return Response.json({"error": ip_msg})
                    return Response.json({"error": {"ip": ip_msg, "key": MSG["key"]}})
                token = secrets.token_hex(16) if self.version == "2.3" else secrets.token_hex(13)
                self._sessions[token] = {"api_id": api_id, "ip": self.client_ip, "last": self._now(),
                                         "session_id": sid if self.version == "2.3" else token, "cookie": sid}
        finally:
            conn.close()
        field = "token" if self.version == "2.3" else "api_token"
        return Response.json({"success": MSG["login_ok"], field: token})

    def _session(self, req) -> dict | None:
        token = req.arg("token" if self.version == "2.3" else "api_token")
        now = self._now()
        for t, s in list(self._sessions.items()):  # cleanSessions: idle > 1 h are gone
            if now - s["last"] > IDLE_SECONDS:
                del self._sessions[t]
        if token is None:
            return None
        s = self._sessions.get(token)
        if s is None or s["ip"] != self.client_ip:
            return {"invalid": True, "token": token}
        s["last"] = now
        return s

    def add_history(self, req) -> Response:
        session = self._session(req)
        v4 = self.version.startswith("4")
        if session is None or session.get("invalid"):
            if v4:  # T2: no error/permission controller in 4.0 → HTML page
                if session is None:
                    return Response(404, HTML_404.encode(), {"Content-Type": "text/html; charset=utf-8"})
                return Response(500, HTML_500.encode(), {"Content-Type": "text/html; charset=UTF-8"})
            return Response.json({"error": MSG["permission"]})
        form = req.form()
        order_id = form.get("order_id") if v4 else req.arg("order_id")
        try:
            order_id = int(order_id or 0)
        except ValueError:
            order_id = 0
        # T1: missing fields become '' and (int)'' is 0
        status = int(form.get("order_status_id") or 0) if str(form.get("order_status_id", "")).strip().lstrip("-").isdigit() else 0
        comment = html.escape(form.get("comment", ""), quote=False).replace('"', "&quot;")  # T11
        notify = 1 if (form.get("notify") not in (None, "", "0") if v4 else str(form.get("notify", "")) == "1") else 0
        conn = self.db.connect()
        try:
            with self.db.lock:
                rows = self.db.run(conn, f"SELECT order_status_id, store_id FROM {self._t('order')} WHERE order_id = %s",
                                   (order_id,))
                if not rows:
                    return Response.json({"error": MSG["order"]})
                old = rows[0][0]
                live = self._live_statuses(conn)
                if old not in live and status in live:
                    self._stock(conn, order_id, -1)
                self.db.run(conn, f"UPDATE {self._t('order')} SET order_status_id = %s, date_modified = NOW() "
                                  "WHERE order_id = %s", (status, order_id))
                self.db.run(conn, f"INSERT INTO {self._t('order_history')} (order_id, order_status_id, notify, comment, "
                                  "date_added) VALUES (%s, %s, %s, %s, NOW())", (order_id, status, notify, comment))
                if old in live and status not in live:
                    self._stock(conn, order_id, +1)
                if self.db.sqlite:
                    conn.commit()
        finally:
            conn.close()
        if self._after_write:
            return AFTER_WRITE[self._after_write.pop(0)]()
        return Response.json({"success": MSG["history_ok"]})

    def _live_statuses(self, conn) -> set[int]:
        out: set[int] = set()
        for (value,) in self.db.run(conn, f"SELECT value FROM {self._t('setting')} WHERE store_id = 0 AND `key` IN "
                                          "('config_processing_status', 'config_complete_status')"):
            try:
                out |= {int(x) for x in json.loads(value)}
            except (ValueError, TypeError):
                pass
        return out

    def _stock(self, conn, order_id: int, sign: int) -> None:
        for pid, qty in self.db.run(conn, f"SELECT product_id, quantity FROM {self._t('order_product')} "
                                          "WHERE order_id = %s", (order_id,)):
            self.db.run(conn, f"UPDATE {self._t('product')} SET quantity = quantity + %s WHERE product_id = %s "
                              "AND subtract = 1", (sign * qty, pid))
        for pov, qty in self.db.run(conn, f"SELECT oo.product_option_value_id, op.quantity FROM {self._t('order_option')} oo "
                                          f"JOIN {self._t('order_product')} op ON op.order_product_id = oo.order_product_id "
                                          "WHERE oo.order_id = %s", (order_id,)):
            self.db.run(conn, f"UPDATE {self._t('product_option_value')} SET quantity = quantity + %s "
                              "WHERE product_option_value_id = %s AND subtract = 1", (sign * qty, pov))

    def state(self) -> dict:
        return {"version": self.version, "sessions": len(self._sessions), "client_ip": self.client_ip}


__all__ = ["AFTER_WRITE", "MSG", "OpenCartApiSimulator"]
