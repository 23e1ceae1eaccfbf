"""Netgsm simulator: SMS REST v2 (send, otp, report, cancel, msgheader, read-once inbox) and voice SMS
("sesli mesaj": XML send with one key press, plain-text report, JSON webhook).

Facts from Netgsm's public SDKs (netgsm-sms-js: paths, JSON shapes, codes; netgsm/voicemail:
XML body, "00 <bulkid>" answer, report rows `bulkid numara durum tus` joined by `<br>`) as
summarised in our provider notes. Choices where the sources are silent:
- API errors answer HTTP 406 with `{code, description}` (the SDK treats 200 and 406 alike);
- date strings (`deliveredDate`, inbox `datetime`) use `dd.MM.yyyy HH:mm:ss`;
- inbox `sender` is `90` + 10 digits; SMS DLR / inbound *push* fields are unverified, so the
  simulator offers only the documented pull APIs for SMS (report, inbox);
- voice-SMS webhooks are not retried (policy unverified); Netsantral is not simulated;
- SMS `encoding`: without `tr` Turkish letters reach the handset as their Latin look-alikes (`ş` → `s`),
  Netgsm's behaviour is not documented beyond "use tr only for Turkish characters" (netgsm-sms);
- voice SMS: the documented body is the official package's (netgsm/voicemail src/Package.php): one `<keys>`
  element per `<keydetail>`, `relationid` a number (README: "random sayı"). Anything else answers `70`.
"""

from __future__ import annotations

import collections
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

from .base import HttpError, Request, Response, Simulator, key_presses

DATE = "%d.%m.%Y %H:%M:%S"
LATIN = str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosuCGIOSU")
NETGSM_DATE = re.compile(r"\d{12}(\d{2})?")  # ddMMyyyyHHmm[ss]
MAX_SMS_CHARS = 917  # long SMS limit used by Netgsm's panel for Turkish text; longer → code 20
DESCRIPTIONS = {
    "00": "queued", "20": "Mesaj metninde ki problemden dolayı gönderilemediğini veya standart maksimum mesaj karakter sayısını geçtiğini ifade eder.",
    "30": "Geçersiz kullanıcı adı, şifre veya kullanıcınızın API erişim izninin olmadığını gösterir.",
    "40": "Mesaj başlığınızın (gönderici adınızın) sistemde tanımlı olmadığını ifade eder.",
    "50": "Abone hesabınız ile İYS kontrollü gönderimler yapılamamaktadır.",
    "51": "Aboneliğinize tanımlı İYS Marka bilgisi bulunamadığını ifade eder.",
    "60": "Belirtilen jobid bulunamadı / kayıt yok.",
    "70": "Hatalı sorgulama. Gönderdiğiniz parametrelerden birisi hatalı veya zorunlu alanlardan birinin eksik olduğunu ifade eder.",
    "80": "Gönderim sınır aşımı.",
    "85": "Mükerrer gönderim sınır aşımı. Aynı numaraya 1 dakika içerisinde 20'den fazla görev oluşturulamaz.",
    "100": "Sistem hatası.",
}
VOICE_STATE = {"answered": 1, "no_answer": 2, "failed": 3, "busy": 7}


TR = ZoneInfo("Europe/Istanbul")  # Netgsm's dates are Turkish local time


def _now(fmt: str = DATE) -> str:
    return datetime.now(TR).strftime(fmt)


def _when(text: str, end: bool) -> float:
    """`ddMMyyyyHHmm` or `ddMMyyyyHHmmss` (netgsm-sms get_inbox), Turkish time → epoch; a minute bound is inclusive."""
    fmt = "%d%m%Y%H%M%S" if len(text) == 14 else "%d%m%Y%H%M"
    at = datetime.strptime(text, fmt).replace(tzinfo=TR).timestamp()
    return at + (60 if end and len(text) == 12 else 0)


def _code(code: str, status: int = 406, **extra) -> HttpError:
    return HttpError(Response.json({"code": code, "description": DESCRIPTIONS.get(code, ""), **extra}, status))


def national(no: str) -> str | None:
    """Netgsm's `no`: 10 digits starting with 5 (also accepts 0/90 prefixes); None if not a TR mobile."""
    digits = re.sub(r"\D", "", no or "")
    if len(digits) == 12 and digits.startswith("90"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("0"):
        digits = digits[1:]
    return digits if re.fullmatch(r"5\d{9}", digits) else None


class NetgsmSimulator(Simulator):
    """Netgsm SMS REST v2 + voice SMS on one loopback server."""

    name = "netgsm"
    retry_delays = ()
    routes = [
        ("POST", r"/sms/rest/v2/send", "send"),
        ("POST", r"/sms/rest/v2/otp", "otp"),
        ("POST", r"/sms/rest/v2/report", "report"),
        ("POST", r"/sms/rest/v2/cancel", "cancel"),
        ("GET", r"/sms/rest/v2/msgheader", "msgheader"),
        ("GET", r"/sms/rest/v2/inbox", "inbox"),
        ("POST", r"/balance", "balance"),
        ("POST", r"/voicesms/send", "voice_send"),
        ("GET", r"/voicesms/report/?", "voice_report"),
        ("GET", r"/voicesms/edit", "voice_cancel"),
        ("GET", r"/(?P<user>\d+)/(?P<kind>xfer|atxfer)", "pbx_transfer"),
    ]
    control_methods = Simulator.control_methods + ("sms_messages", "voice_calls", "inject_sms", "set_iys", "inbound_call",
                                                    "transfers", "set_credit")

    def __init__(self, *, usercode: str = "8503000000", password: str = "netgsm-secret",
                 msgheaders: tuple[str, ...] = ("OCBRIDGE",), number: str = "8503000000",
                 iys_allowed: bool = True, iys_brand: bool = True, report_per_minute: int | None = 10,
                 voice_report_per_minute: int | None = 2, **kwargs):
        super().__init__(**kwargs)
        self.usercode, self.password = usercode, password
        self.msgheaders = list(msgheaders)
        self.number = number
        self.iys_allowed, self.iys_brand = iys_allowed, iys_brand
        self.report_per_minute, self.voice_report_per_minute = report_per_minute, voice_report_per_minute
        self._st = threading.RLock()
        self.reset_state()

    def reset_state(self) -> None:
        with self._st:
            self._sms: list[dict] = []
            self._jobs: dict[str, dict] = {}
            self._inbox: list[dict] = []
            self._voice: dict[str, dict] = {}
            self._live_calls: dict[str, dict] = {}  # Netsantral unique_id → inbound call still going on
            self._transfers: list[dict] = []
            self._per_number: dict[str, collections.deque] = collections.defaultdict(collections.deque)
            self._queries: dict[str, collections.deque] = collections.defaultdict(collections.deque)

    # inspection / control -----------------------------------------------------------------------
    def sms_messages(self) -> list[dict]:
        with self._st:
            return [dict(m) for m in self._sms]

    def transfers(self) -> list[dict]:
        with self._st:
            return [dict(t) for t in self._transfers]

    def inbound_call(self, url: str, customer_num: str, pbx_num: str = "8503000000",
                     incoming_number: str | None = None) -> dict:
        """A customer calls the PBX: the "Webhook Santral Dinleme" event (netsantral README, Inbound Çağrılar
        sample: pbx_num, unique_id, scenario, customer_num, timestamp; `incoming_number` per the field table)."""
        unique_id = f"sip3-{int(time.time())}.{len(self._live_calls) + 1}{uuid.uuid4().hex[:4]}"
        event = {"pbx_num": pbx_num, "unique_id": unique_id, "scenario": "Inbound_call", "customer_num": customer_num,
                 "timestamp": str(int(time.time() * 1000))}
        if incoming_number:
            event["incoming_number"] = incoming_number
        with self._st:
            self._live_calls[unique_id] = dict(event)
        self.webhooks.send(url, json_body=event, event_id=f"{unique_id}:Inbound_call")
        return event

    def pbx_transfer(self, req: Request, user: str, kind: str) -> Response:
        """`GET /<usercode>/xfer` (netsantral src/Package.php cagritransfer): blind transfer of a live call."""
        crm_id = req.arg("crm_id") or ""

        def answer(status: str, message: str) -> Response:
            return Response.json({"crm_id": crm_id, "response": kind, "status": status, "message": message})

        if (user, req.arg("username"), req.arg("password")) != (self.usercode, self.usercode, self.password):
            return answer("Error", "Authentication failed")
        if not req.arg("exten") or not req.arg("unique_id"):
            return answer("Error", "Missing parameter")
        with self._st:
            call = self._live_calls.pop(req.arg("unique_id"), None)
            if call is None:
                return answer("Error", "Call not found")
            self._transfers.append({"unique_id": req.arg("unique_id"), "exten": req.arg("exten"), "type": kind,
                                    "crm_id": crm_id, "customer_num": call["customer_num"]})
        return answer("Success", "Successful")

    def voice_calls(self) -> list[dict]:
        with self._st:
            return [dict(v) for v in self._voice.values()]

    def state(self) -> dict:
        return {**super().state(), "sms": self.sms_messages(), "inbox": list(self._inbox), "voice": self.voice_calls()}

    def set_iys(self, allowed: bool = True, brand: bool = True) -> None:
        self.iys_allowed, self.iys_brand = bool(allowed), bool(brand)

    def inject_sms(self, sender: str, message: str, receiver: str | None = None) -> dict:
        """A customer texts our number: lands in the read-once inbox."""
        item = {"message": message, "sender": "90" + (national(sender) or re.sub(r"\D", "", sender)[-10:]),
                "receiver": receiver or self.number, "datetime": _now(), "read": False, "at": time.time()}
        with self._st:
            self._inbox.append(item)
        return {k: v for k, v in item.items() if k not in ("read", "at")}

    # hooks ----------------------------------------------------------------------------------------
    def account_of(self, req: Request) -> str | None:
        auth = req.basic_auth()
        if auth:
            return auth[0]
        if req.arg("usercode"):
            return req.arg("usercode")
        m = re.search(rb"<usercode>([^<]*)</usercode>", req.body)
        return m.group(1).decode("utf-8", "replace") if m else None

    def rate_limited(self, req: Request, retry_after: int) -> Response:
        if req.path.startswith("/voicesms"):
            return Response.text("80", 200, {"Retry-After": str(retry_after)})
        return _code("80", 406, jobid=None).response

    # SMS REST v2 ----------------------------------------------------------------------------------
    def _auth(self, req: Request) -> None:
        if req.basic_auth() != (self.usercode, self.password):
            raise _code("30")

    def _body(self, req: Request) -> dict:
        try:
            data = req.json()
        except ValueError:
            raise _code("70") from None
        if not isinstance(data, dict):
            raise _code("70")
        return data

    def _limit_queries(self, kind: str, per_minute: int | None, error: HttpError) -> None:
        if not per_minute:
            return
        now = time.monotonic()
        with self._st:
            q = self._queries[kind]
            while q and now - q[0] > 60:
                q.popleft()
            if len(q) >= per_minute:
                raise error
            q.append(now)

    def send(self, req: Request) -> Response:
        self._auth(req)
        data = self._body(req)
        if data.get("msgheader") not in self.msgheaders:
            raise _code("40")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _code("70")
        for name in ("startdate", "stopdate"):
            if data.get(name) and not NETGSM_DATE.fullmatch(str(data[name])):
                raise _code("70")
        if data.get("encoding") not in (None, "", "TR", "ASCII", "tr", "ascii"):
            raise _code("70")
        if data.get("iysfilter") in ("11", "12"):
            if not self.iys_allowed:
                raise _code("50")
            if not self.iys_brand:
                raise _code("51")
        for m in messages:
            if not isinstance(m, dict) or not m.get("no"):
                raise _code("70")
            if not str(m.get("msg") or "").strip() or len(str(m["msg"])) > MAX_SMS_CHARS:
                raise _code("20")
        self._check_duplicates([str(m["no"]) for m in messages])
        turkish = str(data.get("encoding") or "").lower() == "tr"
        return self._create_job(data.get("msgheader"), [(str(m["msg"]), str(m["no"])) for m in messages], turkish)

    def otp(self, req: Request) -> Response:
        self._auth(req)
        data = self._body(req)
        if data.get("msgheader") not in self.msgheaders:
            raise _code("41")
        if not str(data.get("msg") or "").strip():
            raise _code("20")
        if not national(str(data.get("no") or "")):
            raise _code("50")
        self._check_duplicates([str(data["no"])])
        return self._create_job(data["msgheader"], [(str(data["msg"]), str(data["no"]))])

    def _check_duplicates(self, numbers: list[str]) -> None:
        """Code 85: more than 20 tasks for the same number within one minute."""
        now = time.monotonic()
        with self._st:
            for no in numbers:
                q = self._per_number[national(no) or no]
                while q and now - q[0] > 60:
                    q.popleft()
                if len(q) >= 20:
                    raise _code("85")
            for no in numbers:
                self._per_number[national(no) or no].append(now)

    def _create_job(self, header: str, items: list[tuple[str, str]], turkish: bool = True) -> Response:
        jobid = str(int(time.time() * 1000)) + uuid.uuid4().hex[:8]
        with self._st:
            rows = []
            for msg, no in items:
                row = {"jobid": jobid, "number": national(no) or no, "msg": msg, "msgheader": header,
                       "status": 0 if national(no) else 3, "operator": 10, "msglen": len(msg),
                       "encoding": "tr" if turkish else "", "shown": msg if turkish else msg.translate(LATIN),
                       "deliveredDate": None, "errorCode": None, "referansID": uuid.uuid4().hex[:12]}
                self._sms.append(row)
                rows.append(row)
            self._jobs[jobid] = {"jobid": jobid, "canceled": False, "created": time.time()}
        self.spawn(self._run_job, jobid)
        return Response.json({"code": "00", "description": "queued", "jobid": jobid})

    def _run_job(self, jobid: str) -> None:
        if not self.sleep(2):
            return
        replies = []
        with self._st:
            if self._jobs[jobid]["canceled"]:
                return
            for row in (r for r in self._sms if r["jobid"] == jobid and r["status"] == 0):
                reply, customer = self.customers.next_sms_reply(row["number"])
                if customer.sms_delivery == "delivered":
                    row.update(status=1, deliveredDate=_now())
                    if reply is not None:
                        replies.append((row, reply, customer.reply_delay))
                else:
                    row.update(status=12, errorCode=1)
        for row, reply, delay in replies:
            self.spawn(self._reply_later, row, reply, delay)

    def _reply_later(self, row: dict, reply: str, delay: float) -> None:
        if self.sleep(delay):
            order = re.search(r"#?(\d{3,})", row["msg"])
            self.inject_sms(row["number"], reply.replace("{order}", order.group(1) if order else "1234"))

    def report(self, req: Request) -> Response:
        self._auth(req)
        data = self._body(req)
        self._limit_queries("report", self.report_per_minute, _code("80"))
        jobids = data.get("jobids") or data.get("bulkIds") or []
        if isinstance(jobids, str):
            jobids = [x for x in jobids.split(",") if x]
        with self._st:
            rows = [r for r in self._sms if not jobids or r["jobid"] in jobids]
        size = int(data.get("pagesize") or 100)
        page = int(data.get("pagenumber") or 0)
        rows = rows[page * size:(page + 1) * size]
        if not rows:
            raise _code("60")
        jobs = [{k: r[k] for k in ("jobid", "number", "status", "operator", "msglen", "deliveredDate", "errorCode",
                                   "referansID")} for r in rows]
        return Response.json({"code": "00", "description": "Success", "jobs": jobs})

    def cancel(self, req: Request) -> Response:
        self._auth(req)
        data = self._body(req)
        with self._st:
            job = self._jobs.get(str(data.get("jobid")))
            pending = job and any(r["status"] == 0 for r in self._sms if r["jobid"] == job["jobid"])
            if not job or job["canceled"] or not pending:
                raise _code("60")
            job["canceled"] = True
        return Response.json({"code": "00", "description": "Success", "jobid": job["jobid"]})

    def set_credit(self, lira: str) -> None:
        """The account's credit in Turkish lira (what `/balance` with stip 2 answers)."""
        self.credit = str(lira)

    def balance(self, req: Request) -> Response:
        """`POST /balance` (netgsm-sms-js checkBalance): usercode, password, stip in a JSON body — no Basic auth.
        stip 2 → `{"code": "00", "balance": "57,860"}` (lira, decimal comma); stip 1 → the packages list; wrong
        credentials → 406 code 30."""
        data = self._body(req)
        if (str(data.get("usercode")), str(data.get("password"))) != (self.usercode, self.password):
            raise _code("30")
        if str(data.get("stip")) == "1":
            return Response.json({"balance": [{"amount": 399, "balance_name": "SMS Count"}]})
        if str(data.get("stip")) != "2":
            raise _code("70")
        return Response.json({"code": "00", "balance": getattr(self, "credit", "57.860").replace(".", ",")})

    def msgheader(self, req: Request) -> Response:
        self._auth(req)
        return Response.json({"code": "00", "description": "Success", "msgheaders": self.msgheaders})

    def inbox(self, req: Request) -> Response:
        """Without a date range each message is listed once only (read-once semantics)."""
        self._auth(req)
        start, stop = req.arg("startdate"), req.arg("stopdate")
        with self._st:
            if start or stop:
                try:
                    lo = _when(start, end=False) if start else None
                    hi = _when(stop, end=True) if stop else None
                except ValueError:
                    raise _code("70") from None
                items = [m for m in self._inbox if (lo is None or m["at"] >= lo) and (hi is None or m["at"] <= hi)]
            else:
                items = [m for m in self._inbox if not m["read"]]
                for m in items:
                    m["read"] = True
        if not items:
            raise _code("40")
        return Response.json({"code": "00", "description": "Success",
                              "messages": [{k: m[k] for k in ("message", "sender", "receiver", "datetime")} for m in items]})

    # voice SMS --------------------------------------------------------------------------------------
    def voice_send(self, req: Request) -> Response:
        try:
            root = ET.fromstring(req.body)
        except ET.ParseError:
            return Response.text("70")
        header = root.find("header")
        if header is None or root.find("body") is None:
            return Response.text("70")
        h = {child.tag: (child.text or "").strip() for child in header}
        if (h.get("usercode"), h.get("password")) != (self.usercode, self.password):
            return Response.text("30")
        body = root.find("body")
        numbers = [(n.text or "").strip() for n in body.iter("no") if (n.text or "").strip()]
        if not numbers:
            return Response.text("45")
        text = body.find("text")
        audio = body.find("audioid")
        series = body.find(".//series")
        if text is None and audio is None and series is None:
            return Response.text("40")
        key = h.get("key", "0")
        if key not in ("0", "1"):
            return Response.text("70")
        if any(len(group.findall("keydetail")) != 1 for group in body.iter("keys")):
            return Response.text("70")  # one <keys> per <keydetail> (Package.php)
        if h.get("relationid") and not h["relationid"].isdigit():
            return Response.text("70")  # a number (README)
        keys = {}
        for detail in body.iter("keydetail"):
            digit = (detail.findtext("keyinfo") or "").strip()
            if not re.fullmatch(r"\d", digit):
                return Response.text("70")
            keys[digit] = (detail.findtext("text") or detail.findtext("audioid") or "").strip()
        if key == "1" and not keys:
            return Response.text("70")
        ringtime = int(h.get("ringtime") or 30)
        if not 10 <= ringtime <= 30:
            return Response.text("70")
        bulkid = str(int(time.time() * 1000))[-9:] + uuid.uuid4().hex[:4]
        with self._st:
            self._voice[bulkid] = {
                "bulkid": bulkid, "numbers": numbers, "key": key == "1", "keys": keys, "url": h.get("url") or None,
                "relationid": h.get("relationid"), "text": text.text if text is not None else None,
                "results": {}, "canceled": False, "created": _now("%Y-%m-%d %H:%M:%S.%f")[:-3],
            }
        for no in numbers:
            self.spawn(self._run_voice, bulkid, no)
        return Response.text(f"00 {bulkid}")

    def _run_voice(self, bulkid: str, no: str) -> None:
        job = self._voice[bulkid]
        outcome, customer = self.customers.next_call(no)
        if not self.sleep(1 + customer.answer_delay) or job["canceled"]:
            return
        answered, presses = key_presses(outcome)
        push = None
        if not national(no):
            state = 3
        elif not answered:
            state = VOICE_STATE.get(outcome, 3)
        else:
            state = 1
            if job["key"]:
                if outcome == "hangup":
                    push = None  # hung up before the key phase
                elif presses:
                    push = presses[0]  # one key press only
                else:
                    push = "-1"
            if not self.sleep(5):
                return
        now = _now("%Y-%m-%d %H:%M:%S.%f")[:-3]  # yyyy-MM-dd HH:mm:ss.SSS (README, "Sesli Mesaj Webhook")
        result = {"bulkid": bulkid, "caller": self.number, "callee": no, "state": state,
                  "type": 3 if job["key"] else 1, "name": "ocbridge", "creation_time": job["created"],
                  "start_time": now, "answer_time": now if state == 1 else None, "hangup_time": now,
                  "bilsec": 5 if state == 1 else 0, "relationid": job["relationid"],
                  "detail": {"push_button": push, "survey_push_button_desc": job["keys"].get(push or "", None),
                             "survey_taskid": None, "record_link": None}}
        with self._st:
            job["results"][no] = result
        if job["url"]:
            self.webhooks.send(job["url"], json_body=result, event_id=f"{bulkid}:{no}")

    def _voice_auth(self, req: Request) -> Response | None:
        if (req.arg("usercode"), req.arg("password")) != (self.usercode, self.password):
            return Response.text("30")
        return None

    def voice_report(self, req: Request) -> Response:
        denied = self._voice_auth(req)
        if denied:
            return denied
        try:
            self._limit_queries("voice_report", self.voice_report_per_minute, HttpError(Response.text("80")))
        except HttpError as exc:
            return exc.response
        bulkid = req.arg("bulkid")
        if req.arg("type", "0") == "0" and not bulkid:
            return Response.text("70")
        with self._st:
            jobs = [self._voice[bulkid]] if bulkid in self._voice else ([] if bulkid else list(self._voice.values()))
            rows = []
            for job in jobs:
                for no in job["numbers"]:
                    res = job["results"].get(no)
                    status = res["state"] if res else (5 if job["canceled"] else 0)
                    push = res["detail"]["push_button"] if res else None
                    if req.arg("status") and str(status) != req.arg("status"):
                        continue
                    if req.arg("tus") == "10" and push not in (None, "-1"):
                        continue
                    rows.append(f"{job['bulkid']} {no} {status}" + (f" {push}" if push not in (None, "-1") else ""))
        if not rows:
            return Response.text("60")
        return Response.text("<br>".join(rows))

    def voice_cancel(self, req: Request) -> Response:
        denied = self._voice_auth(req)
        if denied:
            return denied
        with self._st:
            job = self._voice.get(req.arg("bulkid") or "")
            if not job:
                return Response.json({"code": "60", "description": DESCRIPTIONS["60"]})
            job["canceled"] = True
        return Response.json({"code": "00", "description": "Success", "bulkid": job["bulkid"]})
