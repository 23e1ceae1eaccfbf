"""Verimor simulator: Bulutsantralim IVR campaigns (+ result webhook), the PBX side of "Santral Programlama",
and SMS API v2 (send, status, inbound, cancel, headers, balance, DLR and inbound pushes).

Facts from Verimor's public docs (Bulutsantralim-API ivr_campaigns.md, cagri-sonuc-kodlari.md,
advisory_webhook.md; SMS-API user_guide.md). Where the docs are silent the simulator picks a
behaviour and says so here:
- validation messages other than `name can't be blank`, `Gecersiz anahtar: …`, `Cannot find
  ivr_campaign with ID …` and `INVALID_JSON` are our wording (Verimor answers 400 + plain text);
- IVR webhook retries are not documented: this simulator does not retry them (worst case);
- redial spacing for `call_retries` is not documented: 60 simulated seconds;
- `GET /v2/balance` answers the credit count as plain text (format not documented).
Both APIs are served by one simulator: point the PBX client and the SMS client at the same base URL.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from .base import HttpError, Request, Response, Simulator, key_presses

TARGET = re.compile(
    r"restart|fax|fax/\S+@\S+|hangup/(hangup|busy)|(user|group|queue|ivr|voicemail|announcement)/\d+"
    r"|external/\+?\d+|tts/(tr-TR|en-US|ar-XA)/.+"
)
PHONE = re.compile(r"90\d{10}|0\d{10}|\d{10}|00\d{6,15}")
IVR_LANGS = ("tr-TR", "en-US", "ar-XA")
DIGIT_FIELDS = {**{str(d): f"digit_target_{d}" for d in range(10)}, "*": "digit_target_star", "#": "digit_target_square"}
# Campaign webhook `status` labels (cagri-sonuc-kodlari.md) and the CDR hangup causes behind them.
CALL_STATUS = {
    "answered": ("Cevaplandı", "NORMAL_CLEARING"), "no_answer": ("Cevapsız", "NO_ANSWER"),
    "busy": ("Meşgul", "USER_BUSY"), "failed": ("Hatalı Numara", "UNALLOCATED_NUMBER"),
}
SMS_PART = {0: (160, 153), 1: (155, 149), 2: (70, 67)}  # single part / per part of a long message
TURKISH_ONLY = set("ŞşĞğçıİ")  # only these force datacoding 1 (user_guide.md Not-2)
GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_DOUBLE = set("^{}\\[]~|€")


def _stamp(fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.now(timezone.utc).strftime(fmt)


TR = ZoneInfo("Europe/Istanbul")
INTERNAL = ("msg", "source_addr", "datacoding", "shown")  # simulator-side fields of an SMS row, never answered


def push_time(at: datetime) -> str:
    """SMS push: `2017-01-01 09:00:00` (user_guide.md, inbound push sample), Turkish local time."""
    return at.astimezone(TR).strftime("%Y-%m-%d %H:%M:%S")


def pull_time(at: datetime) -> str:
    """`GET /v2/inbound_messages`: ISO 8601 with milliseconds and offset, `2017-01-01T10:00:00.000+03:00`."""
    return at.astimezone(TR).isoformat(timespec="milliseconds")


def _bad(text: str, status: int = 400) -> HttpError:
    return HttpError(Response.text(text, status))


def domestic(phone: str) -> str:
    """Verimor's own spelling in reports: 90XXXXXXXXXX for Turkey, 00… abroad."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("00"):
        return digits
    return "90" + digits[-10:] if len(digits) >= 10 else digits


class VerimorSimulator(Simulator):
    """Bulutsantralim + SMS API v2 on one loopback server."""

    name = "verimor"
    retry_delays = (300, 300, 300)  # SMS pushes: "5'er dakika bekleyerek 3 kere daha dener"
    ivr_retry_delays: tuple[float, ...] = ()  # not documented → no retries
    redial_delay = 60.0
    routes = [
        ("POST", r"/ivr_campaigns\.json", "create_campaign"),
        ("DELETE", r"/ivr_campaigns/(?P<cid>\d+)", "delete_campaign"),
        ("GET", r"/cdrs", "cdrs"),
        ("PATCH", r"/ivr_campaigns/(?P<cid>\d+)", "patch_campaign"),
        ("POST", r"/v2/send\.json", "sms_send_json"),
        ("GET", r"/v2/send", "sms_send_get"),
        ("POST", r"/v2/cancel/(?P<cid>\d+)", "sms_cancel"),
        ("GET", r"/v2/status", "sms_status"),
        ("GET", r"/v2/inbound_messages", "sms_inbound"),
        ("GET", r"/v2/headers", "list_sms_headers"),
        ("GET", r"/v2/balance", "sms_balance"),
    ]
    control_methods = Simulator.control_methods + (
        "campaigns", "sms_messages", "inject_sms", "set_sms_push_url", "set_ip_allowed", "set_credits", "pbx_call",
    )

    def __init__(self, *, api_key: str = "K12345678-1234-5678-4321-123456789012", domain_id: int = 429,
                 sms_username: str = "908501234567", sms_password: str = "sms-secret",
                 sms_headers: tuple[str, ...] = ("OCBRIDGE",), sms_push_url: str | None = None, credits: int = 10_000,
                 number: str = "908501234567", validate_webhook_url: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.api_key, self.domain_id = api_key, domain_id
        self.sms_username, self.sms_password = sms_username, sms_password
        self.sms_headers = list(sms_headers)
        self.sms_push_url = sms_push_url
        self.initial_credits = credits
        self.number = number
        self.validate_webhook_url = validate_webhook_url
        self.ip_allowed = True
        self._st = threading.RLock()
        self.reset_state()

    def reset_state(self) -> None:
        with self._st:
            self._campaigns: dict[int, dict] = {}
            self._next_campaign = 20212
            self._next_lead = 1878
            self._next_notification = 1
            self._sms_campaigns: dict[int, dict] = {}
            self._sms: list[dict] = []
            self._next_sms_campaign = 20121
            self._next_message = 13582302
            self._inbound: list[tuple[datetime, dict]] = []  # (received, push item)
            self._next_inbound = 1234
            self._sent_today: set[tuple[str, str, str, str]] = set()
            self.credits = self.initial_credits

    # inspection / control -------------------------------------------------------------------------
    def campaigns(self) -> list[dict]:
        with self._st:
            return [json.loads(json.dumps(c)) for c in self._campaigns.values()]

    def sms_messages(self) -> list[dict]:
        with self._st:
            return [dict(m) for m in self._sms]

    def state(self) -> dict:
        return {**super().state(), "campaigns": self.campaigns(), "sms": self.sms_messages(),
                "inbound": [m for _, m in self._inbound], "credits": self.credits}

    def set_sms_push_url(self, url: str | None) -> None:
        self.sms_push_url = url

    def set_ip_allowed(self, allowed: bool) -> None:
        """False → SMS API answers 401 as when the server IP is not in OİM's allowlist."""
        self.ip_allowed = bool(allowed)

    def set_credits(self, credits: int) -> None:
        self.credits = int(credits)

    def account_of(self, req: Request) -> str | None:
        if req.path.startswith("/v2/"):
            body = _json_or_none(req) or {}
            return (body.get("username") if isinstance(body, dict) else None) or req.arg("username")
        body = _json_or_none(req)
        key = body.get("key") if isinstance(body, dict) else None
        return key or req.arg("key") or req.form().get("key")

    def rate_limited(self, req: Request, retry_after: int) -> Response:
        return Response.text("Too Many Requests", 429, {"Retry-After": str(retry_after)})

    def garbage(self, req: Request) -> Response:
        from .base import GARBAGE_BODY

        return Response(200, GARBAGE_BODY, {"Content-Type": "text/plain; charset=utf-8"})

    # Bulutsantralim: IVR campaigns ------------------------------------------------------------------
    def _check_key(self, key: str | None) -> None:
        if key != self.api_key:
            raise _bad(f"Gecersiz anahtar: {key or ''}")

    def create_campaign(self, req: Request) -> Response:
        data = _json_or_none(req)
        if not isinstance(data, dict):
            raise _bad("INVALID_JSON")
        self._check_key(data.get("key"))
        self._validate_campaign(data)
        if data.get("webhook_url") and self.validate_webhook_url:
            # Verimor checks the URL with an empty POST and wants 200 before creating the campaign.
            probe = self.fetch("POST", data["webhook_url"], body=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
            if probe.status != 200:
                raise _bad(f"webhook_url did not answer 200: {data['webhook_url']}")
        with self._st:
            cid = self._next_campaign
            self._next_campaign += 1
            leads = []
            for item in data["phone_list"]:
                leads.append({"ivr_lead_id": self._next_lead, "phone": str(item["phone"]),
                              "phrase": item.get("phrase"), "lang": item.get("lang", "tr-TR"),
                              "status": "waiting", "digit": None, "attempts": 0, "call_uuid": None})
                self._next_lead += 1
            campaign = {"id": cid, "name": data["name"], "status": "on", "request": data, "leads": leads,
                        "created_at": _stamp()}
            self._campaigns[cid] = campaign
        for lead in leads:
            self.spawn(self._run_lead, cid, lead["ivr_lead_id"])
        return Response.text(str(cid))

    def _validate_campaign(self, d: dict) -> None:
        if not str(d.get("name") or "").strip():
            raise _bad("name can't be blank")
        call_type = d.get("call_type", "ivr")
        if call_type not in ("ivr", "queue"):
            raise _bad(f"call_type is invalid: {call_type}")
        phones = d.get("phone_list")
        if not isinstance(phones, list) or not phones:
            raise _bad("phone_list can't be blank")
        for item in phones:
            phone = str(item.get("phone", "")) if isinstance(item, dict) else ""
            if not PHONE.fullmatch(phone):
                raise _bad(f"phone is invalid: {phone}")
            if item.get("lang", "tr-TR") not in IVR_LANGS:
                raise _bad(f"lang is invalid: {item.get('lang')}")
        for name in ("date_range_begin", "date_range_end"):
            if d.get(name) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(d[name])):
                raise _bad(f"{name} is invalid")
        for name in ("time_range_begin", "time_range_end"):
            if d.get(name) and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", str(d[name])):
                raise _bad(f"{name} is invalid")
        if d.get("active_days") is not None and (not isinstance(d["active_days"], list)
                                                  or any(x not in range(1, 8) for x in d["active_days"])):
            raise _bad("active_days is invalid")
        if d.get("ring_timeout") is not None and not 25 <= int(d["ring_timeout"]) <= 60:
            raise _bad("ring_timeout must be between 25 and 60")
        if d.get("digit_timeout") is not None and not 1 <= int(d["digit_timeout"]) <= 10:
            raise _bad("digit_timeout must be between 1 and 10")
        if call_type == "ivr":
            targets = [d.get(f) for f in (*DIGIT_FIELDS.values(), "timeout_target", "invalid_target")]
            if not any(targets):
                raise _bad("at least one of digit targets, timeout_target or invalid_target must be given")
            for t in targets:
                if t and not TARGET.fullmatch(str(t)):
                    raise _bad(f"target is invalid: {t}")
        elif not d.get("queue_number"):
            raise _bad("queue_number can't be blank")
        if d.get("is_commercial") in (True, "true", "t"):
            if d.get("iys_recipient_type") not in ("BIREYSEL", "TACIR"):
                raise _bad("iys_recipient_type is invalid")
            if not d.get("iys_brand_code"):
                raise _bad("iys_brand_code can't be blank")
        if d.get("webhook_url") and not re.match(r"https?://", str(d["webhook_url"])):
            raise _bad("webhook_url is invalid")

    def _find_campaign(self, req: Request, cid: str, key: str | None) -> dict:
        self._check_key(key)
        campaign = self._campaigns.get(int(cid))
        if campaign is None or campaign["status"] == "deleted":
            raise _bad(f"Cannot find ivr_campaign with ID {cid}")
        return campaign

    def cdrs(self, req: Request) -> Response:
        """`GET /cdrs` (cdrs.md): one row per campaign call so far, newest first, `limit` 10-100, paged."""
        self._check_key(req.arg("key"))
        limit = max(10, min(100, int(req.arg("limit") or 10)))
        page = max(1, int(req.arg("page") or 1))
        with self._st:
            calls = [(c, lead) for c in self._campaigns.values() for lead in c.get("leads", [])]
        rows = [cdr_row(c, lead) for c, lead in calls][::-1]
        return Response.json({"cdrs": rows[(page - 1) * limit:page * limit], "pagination": {
            "page": page, "total_count": len(rows), "total_pages": -(-len(rows) // limit), "limit": limit}})

    def delete_campaign(self, req: Request, cid: str) -> Response:
        with self._st:
            self._find_campaign(req, cid, req.arg("key"))["status"] = "deleted"
        return Response.text("OK")

    def patch_campaign(self, req: Request, cid: str) -> Response:
        form = req.form() if "json" not in (req.header("content-type") or "") else (_json_or_none(req) or {})
        status = form.get("status")
        with self._st:
            campaign = self._find_campaign(req, cid, form.get("key") or req.arg("key"))
            if status not in ("on", "off"):
                raise _bad("status must be on or off")
            campaign["status"] = status
        return Response.text("OK")

    def _lead(self, cid: int, lead_id: int) -> tuple[dict, dict]:
        campaign = self._campaigns[cid]
        return campaign, next(lead for lead in campaign["leads"] if lead["ivr_lead_id"] == lead_id)

    def _run_lead(self, cid: int, lead_id: int) -> None:
        campaign, lead = self._lead(cid, lead_id)
        request = campaign["request"]
        retries = int(request.get("call_retries") or 0)
        while True:
            if not self.sleep(1):
                return
            while campaign["status"] == "off":  # paused: wait for "on"
                if not self.sleep(1):
                    return
            if campaign["status"] == "deleted":
                return
            outcome, customer = self.customers.next_call(lead["phone"])
            if not self.sleep(customer.answer_delay):
                return
            if campaign["status"] == "deleted":
                return
            answered, presses = key_presses(outcome)
            call_uuid = str(uuid.uuid4())
            with self._st:
                lead["attempts"] += 1
                lead["call_uuid"] = call_uuid
            if not answered:
                label = CALL_STATUS.get(outcome, CALL_STATUS["failed"])[0]
                self._notify(campaign, lead, "", label, call_uuid)
                if lead["attempts"] <= retries and self.sleep(self.redial_delay):
                    continue
                with self._st:
                    lead["status"] = "done"
                return
            if not self.sleep(5):  # the phrase is read out, the customer presses
                return
            digit = "-"
            if presses:
                key = presses[0]  # one menu level: only the first key counts
                digit = key if request.get(DIGIT_FIELDS.get(key, "")) else f"!{key}"
            with self._st:
                lead.update(status="done", digit=digit)
            self._notify(campaign, lead, digit, CALL_STATUS["answered"][0], call_uuid)
            return

    def _notify(self, campaign: dict, lead: dict, digit: str, status: str, call_uuid: str) -> None:
        url = campaign["request"].get("webhook_url")
        if not url:
            return
        with self._st:
            nid = self._next_notification
            self._next_notification += 1
        form = {
            "notification_id": str(nid), "notification_date": _stamp() + " UTC", "domain_id": str(self.domain_id),
            "ivr_campaign_id": str(campaign["id"]), "ivr_campaign_name": campaign["name"],
            "ivr_lead_id": str(lead["ivr_lead_id"]), "phone": domestic(lead["phone"]), "digit": digit,
            "status": status, "call_uuid": call_uuid,
        }
        self.webhooks.send(url, form=form, event_id=str(nid), retry_delays=self.ivr_retry_delays)

    # Santral Programlama: the PBX asks our decision URL ------------------------------------------------
    def pbx_call(self, url: str, caller: str, called: str = "908501234567", digits: list[str] | None = None,
                 max_steps: int = 6, method: str = "GET") -> list[dict]:
        """Play the PBX for one inbound call: query `url` step by step, following `prompt` actions
        with the next entry of `digits` (None or "" = the caller typed nothing). Returns the transcript:
        [{step, url, status, response, action, problems}], ending at a transfer or an unusable answer."""
        call_uuid = str(uuid.uuid4())
        typed = list(digits or [])
        transcript: list[dict] = []
        next_url, extra = url, {}
        for step in range(1, max_steps + 1):
            params = {"uuid": call_uuid, "cli": caller, "cld": called, "step": str(step), **extra}
            sep = "&" if "?" in next_url else "?"
            if method.upper() == "GET":
                attempt = self.fetch("GET", f"{next_url}{sep}{urllib.parse.urlencode(params)}")
            else:
                attempt = self.fetch("POST", next_url, form=params)
            entry = {"step": step, "url": attempt.url, "status": attempt.status, "response": None, "action": None,
                     "problems": []}
            transcript.append(entry)
            if attempt.status != 200:
                entry["problems"].append(f"HTTP {attempt.status or attempt.error}: PBX plays its fallback")
                return transcript
            try:
                answer = json.loads(attempt.response_body)
            except ValueError:
                entry["problems"].append("response is not JSON: PBX plays its fallback")
                return transcript
            entry["response"] = answer
            action, problems = check_decision(answer)
            entry["action"], entry["problems"] = action, problems
            if problems or action != "prompt":
                return transcript
            body = answer["prompt"]
            value = typed.pop(0) if typed else ""
            extra = {body.get("param_name") or "digits": value or ""}
            if not value:
                extra["error"] = "timeout"
            next_url = body.get("service_url") or url
        return transcript

    # SMS API v2 ----------------------------------------------------------------------------------------
    def _sms_auth(self, username: str | None, password: str | None) -> None:
        if username != self.sms_username or password != self.sms_password:
            raise _bad("Geçersiz kullanıcı adı/şifre", 401)
        if not self.ip_allowed:
            raise _bad("Hesabınızda izinli IP ayarları yapılmamış", 401)

    def sms_send_json(self, req: Request) -> Response:
        data = _json_or_none(req)
        if not isinstance(data, dict):
            raise _bad("INVALID_JSON")
        self._sms_auth(data.get("username"), data.get("password"))
        return self._send(data, data.get("messages"))

    def sms_send_get(self, req: Request) -> Response:
        q = {k: v[-1] for k, v in req.query.items()}
        self._sms_auth(q.get("username"), q.get("password"))
        return self._send(q, [{"msg": q.get("msg"), "dest": q.get("dest")}])

    def _send(self, data: dict, messages) -> Response:
        header = data.get("source_addr") or self.sms_headers[0]
        if header not in self.sms_headers:
            raise _bad("INVALID_SOURCE_ADDRESS")
        if not isinstance(messages, list) or not messages:
            raise _bad("MISSING_MESSAGE")
        valid_for = str(data.get("valid_for") or "24:00")
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", valid_for)
        if not m or not 1 <= int(m[1]) * 60 + int(m[2]) <= 48 * 60 or int(m[2]) > 59:
            raise _bad("INVALID_PERIOD")
        send_at = data.get("send_at")
        if send_at:
            try:
                datetime.fromisoformat(str(send_at))
            except ValueError:
                raise _bad("INVALID_DELIVERY_TIME") from None
        datacoding = data.get("datacoding")
        if datacoding not in (None, "", 0, 1, 2, "0", "1", "2"):
            raise _bad("INVALID_DATACODING")
        if data.get("is_commercial") in (True, "true") and data.get("iys_recipient_type") not in ("BIREYSEL", "TACIR"):
            raise _bad("INVALID_IYS_RECIPIENT_TYPE")
        planned = []
        for item in messages:
            if not isinstance(item, dict) or not str(item.get("msg") or "").strip():
                raise _bad("MISSING_MESSAGE")
            msg = str(item["msg"])
            coding = int(datacoding) if datacoding not in (None, "") else _auto_coding(msg)
            shown = as_stored(msg, coding)
            size = sms_parts(msg, coding)
            if size > 7:
                raise _bad("MESSAGE_TOO_LONG")
            dests = [x.strip() for x in str(item.get("dest") or "").split(",") if x.strip()]
            if not dests:
                raise _bad("MISSING_DESTINATION_ADDRESS")
            ids = [x.strip() for x in str(item.get("id") or "").split(",")] if item.get("id") else []
            if len(ids) != len(dests):
                ids = [None] * len(dests)  # "o kadar id verilmelidir, yoksa bu parametre dikkate alınmaz"
            for dest, custom in zip(dests, ids):
                if not re.fullmatch(r"(\+|00)?\d{10,15}", dest):
                    raise _bad("INVALID_DESTINATION_ADDRESS")
                planned.append((dest, custom, msg, size, shown))
        if len(planned) > 50_000:
            raise _bad("MESSAGE_COUNT_LIMIT_EXCEEDED")
        with self._st:
            cost = sum(p[3] for p in planned)
            if cost > self.credits:
                raise _bad("INSUFFICIENT_CREDITS")
            self.credits -= cost
            cid = self._next_sms_campaign
            self._next_sms_campaign += 1
            rows = []
            for dest, custom, msg, size, shown in planned:
                day_key = (domestic(dest), header, msg, _stamp("%Y-%m-%d"))
                duplicate = day_key in self._sent_today
                self._sent_today.add(day_key)
                row = {"campaign_id": cid, "campaign_custom_id": data.get("custom_id"),
                       "message_id": str(self._next_message), "message_custom_id": custom, "dest": domestic(dest),
                       "size": size, "international_multiplier": 1, "credits": size,
                       "status": "DOUBLE_SEND_ERROR" if duplicate else "WAITING", "gsm_error": "0",
                       "sent_at": None, "done_at": None, "msg": msg, "source_addr": header,
                       "datacoding": coding, "shown": shown}
                self._next_message += 1
                self._sms.append(row)
                rows.append(row)
            self._sms_campaigns[cid] = {"id": cid, "custom_id": data.get("custom_id"), "canceled": False,
                                        "send_at": send_at}
        self.spawn(self._run_sms_campaign, cid)
        return Response.text(str(cid))

    def _run_sms_campaign(self, cid: int) -> None:
        if not self.sleep(2):
            return
        with self._st:
            if self._sms_campaigns[cid]["canceled"]:
                return
            rows = [r for r in self._sms if r["campaign_id"] == cid]
            replies = []
            for row in rows:
                if row["status"] == "WAITING":
                    reply, customer = self.customers.next_sms_reply(row["dest"])
                    if customer.sms_delivery == "delivered":
                        row.update(status="DELIVERED", sent_at=push_time(datetime.now(timezone.utc)))
                        if reply is not None:
                            replies.append((row, reply, customer.reply_delay))
                    else:
                        row.update(status="NOT_DELIVERED", gsm_error="27")
                row["done_at"] = push_time(datetime.now(timezone.utc))
            report = [{"type": "outbound", **{k: v for k, v in r.items() if k not in INTERNAL}}
                      for r in rows]
        if self.sms_push_url:
            self.webhooks.send(self.sms_push_url, json_body=report, event_id=f"dlr-{cid}")
        for row, reply, delay in replies:
            self.spawn(self._reply_later, row, reply, delay)

    def _reply_later(self, row: dict, reply: str, delay: float) -> None:
        if self.sleep(delay):
            order = re.search(r"#?(\d{3,})", row["msg"])
            self.inject_sms(row["dest"], reply.replace("{order}", order.group(1) if order else "1234"))

    def inject_sms(self, source_addr: str, content: str, destination_addr: str | None = None,
                   network: str = "TURKCELL", keyword: str = "") -> dict:
        """A customer texts our number: stored for /v2/inbound_messages and pushed as a JSON array."""
        with self._st:
            now = datetime.now(timezone.utc)
            item = {"message_id": self._next_inbound, "type": "inbound", "created_at": push_time(now),
                    "network": network, "source_addr": domestic(source_addr),
                    "destination_addr": destination_addr or self.number, "keyword": keyword, "content": content,
                    "received_at": push_time(now)}
            self._next_inbound += 1
            self._inbound.append((now, item))
        if self.sms_push_url:
            self.webhooks.send(self.sms_push_url, json_body=[item], event_id=f"in-{item['message_id']}")
        return item

    def sms_cancel(self, req: Request, cid: str) -> Response:
        data = _json_or_none(req) or {}
        self._sms_auth(data.get("username"), data.get("password"))
        with self._st:
            campaign = self._sms_campaigns.get(int(cid))
            sent = any(r["status"] != "WAITING" for r in self._sms if r["campaign_id"] == int(cid))
            if campaign is None or campaign["canceled"] or sent:
                raise _bad(f"Kampanya bulunamadı: {cid}")
            campaign["canceled"] = True
        return Response.text(f"Kampanya silindi: {cid}")

    def sms_status(self, req: Request) -> Response:
        self._sms_auth(req.arg("username"), req.arg("password"))
        cid, custom = req.arg("id"), req.arg("custom_id")
        with self._st:
            if cid:
                found = [c for c in self._sms_campaigns.values() if str(c["id"]) == cid]
            else:
                found = [c for c in self._sms_campaigns.values() if custom and c["custom_id"] == custom]
            if not found:
                raise _bad("Bu idye sahip kampanya bulunamadı", 404)
            ids = {c["id"] for c in found}
            rows = [r for r in self._sms if r["campaign_id"] in ids]
        dests = {domestic(x) for x in (req.arg("dest") or "").split(",") if x}
        if dests:
            rows = [r for r in rows if r["dest"] in dests]
        if req.arg("greater_than"):
            rows = [r for r in rows if int(r["message_id"]) > int(req.arg("greater_than"))]
        out = [{k: v for k, v in r.items() if k not in INTERNAL} for r in rows[:100]]
        return Response.json(out)

    def sms_inbound(self, req: Request) -> Response:
        self._sms_auth(req.arg("username"), req.arg("password"))
        with self._st:
            items = list(self._inbound)
        if req.arg("greater_than"):
            items = [(at, m) for at, m in items if m["message_id"] > int(req.arg("greater_than"))]
        for name, keep in (("from_time", lambda at, t: at >= t), ("to_time", lambda at, t: at <= t)):
            if req.arg(name):  # `2017-01-01 09:00:00` (Turkish time) or ISO 8601
                try:
                    bound = datetime.fromisoformat(req.arg(name))
                except ValueError:
                    raise _bad(f"{name} is not a date: {req.arg(name)}") from None
                bound = bound if bound.tzinfo else bound.replace(tzinfo=TR)
                items = [(at, m) for at, m in items if keep(at, bound)]
        # The pull answer's shape (user_guide.md "HTTP GET ile Gelen SMS Alımı"): no `type`, ISO 8601 times.
        return Response.json([{**{k: v for k, v in m.items() if k != "type"}, "created_at": pull_time(at),
                               "received_at": pull_time(at)} for at, m in items[:100]])

    def list_sms_headers(self, req: Request) -> Response:
        self._sms_auth(req.arg("username"), req.arg("password"))
        return Response.json(self.sms_headers)

    def sms_balance(self, req: Request) -> Response:
        self._sms_auth(req.arg("username"), req.arg("password"))
        return Response.text(str(self.credits))


def check_decision(answer) -> tuple[str | None, list[str]]:
    """Validate a Santral Programlama answer the way the PBX needs it (advisory_webhook.md)."""
    actions = ("transfer", "prompt", "record", "speech_to_text")
    if not isinstance(answer, dict):
        return None, ["answer must be a JSON object"]
    present = [a for a in actions if a in answer]
    if len(present) != 1:
        return None, [f"exactly one action expected, got {present or 'none'}"]
    action, body, problems = present[0], answer[present[0]], []
    if not isinstance(body, dict):
        return action, [f"{action} must be an object"]
    for name in ("greet_phrase", "phrase"):
        if body.get(name) is not None and len(str(body[name])) > 300:
            problems.append(f"{name} longer than 300 characters")
    if body.get("lang", "tr-TR") not in IVR_LANGS:
        problems.append(f"lang {body.get('lang')} is not supported")
    if action == "transfer":
        if not body.get("target") or not TARGET.fullmatch(str(body["target"])):
            problems.append("transfer needs a valid target")
    elif action == "prompt":
        if not (body.get("announcement_id") or body.get("phrase")):
            problems.append("prompt needs announcement_id or phrase")
        for name in ("min_digits", "max_digits", "retry_count"):
            if body.get(name) is None:
                problems.append(f"prompt needs {name}")
        for name in ("timeout", "digit_timeout"):
            if body.get(name) is not None and not 1 <= int(body[name]) <= 10:
                problems.append(f"{name} must be 1-10")
    elif action == "record" and not (body.get("announcement_id") or body.get("phrase")):
        problems.append("record needs announcement_id or phrase")
    return action, problems


def _json_or_none(req: Request):
    try:
        return req.json()
    except ValueError:
        return None


def _auto_coding(msg: str) -> int:
    """No datacoding sent: "türkçe harf varsa 1, yoksa 0" (user_guide.md, send) — never 2, even for Cyrillic."""
    return 1 if any(ch in TURKISH_ONLY for ch in msg) else 0


def as_stored(msg: str, coding: int) -> str:
    """What the handset shows: GSM (0) and Turkish (1) cannot carry other letters (here shown as `?`)."""
    if coding == 2:
        return msg
    allowed = GSM_BASIC | GSM_DOUBLE | (TURKISH_ONLY if coding == 1 else set())
    return "".join(ch if ch in allowed else "?" for ch in msg)


def sms_parts(msg: str, coding: int) -> int:
    """Number of parts per the SMS-API length table (doubles count twice in GSM/Turkish)."""
    length = len(msg) + (sum(ch in GSM_DOUBLE for ch in msg) if coding in (0, 1) else 0)
    single, per_part = SMS_PART[coding]
    if length <= single:
        return 1
    return -(-length // per_part)


def cdr_row(campaign: dict, lead: dict) -> dict:
    """A CDR as cdrs.md shows it: `+0300` stamps, `HH:MM:SS` durations, booleans as strings."""
    stamp = push_time(datetime.now(timezone.utc)) + " +0300"
    return {"start_stamp": stamp, "direction": "Giden (IVR)", "caller_id_number": str(campaign["request"].get("cli") or ""),
            "caller_id_name": "", "destination_number": str(lead.get("phone") or ""), "destination_name": "",
            "duration": "00:00:20", "talk_duration": "00:00:15", "queue_wait_seconds": "00:00:00", "queue": "",
            "result": "Cevaplandı", "missed": "false", "return_uuid": None, "recording_present": "false",
            "sip_hangup_disposition": "callee", "call_uuid": str(lead.get("call_uuid") or uuid.uuid4()),
            "answer_stamp": stamp, "end_stamp": stamp}
