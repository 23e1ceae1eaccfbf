"""Mail from the hub: owner alerts, test mails, and later customer notices — a side effect like any other.

Which server: the store's enabled Connection of service "smtp" (options: host, port, security = starttls / ssl /
none, from_email; credentials: username, password — encrypted like every credential), else the hub-wide Django
settings EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS / EMAIL_USE_SSL,
DEFAULT_FROM_EMAIL (set from OCBRIDGE_EMAIL_* in the environment). No host anywhere: mail is not set up, and
`queue()` refuses with MailNotSet so the caller can say so instead of losing the mail.

Sending: `queue(key, to=, subject=, body=, store=)` enqueues one SendMail job under `key`; the job makes the
mail through the outbox (core.outbox) under the same key, so queuing twice sends once, a retry after "not
sent" (connection refused, 4xx) sends again, and a mail whose fate is unknown (the connection dropped after the
message was handed over) is never resent. Each send is an Exchange (method SMTP, `smtp://host:port`, the
message's headers and text; the password never appears). The Message-ID names our correlation number.
A job that must act on the outcome (a customer notice marking the shop's history "notified") calls `deliver()`
itself instead of queuing.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from django.conf import settings
from django.utils.translation import gettext_noop

from ocbridge.core import outbound, outbox
from ocbridge.core.choices import SideEffectState
from ocbridge.core.errors import RetryableError, TerminalError, UnknownOutcomeError, network_cause
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.jobkinds import JobKind, register_job_kind
from ocbridge.core.models import Connection, Job, Store
from ocbridge.core.sentences import Sentence, listed

SERVICE = "smtp"
SECURITY = ("starttls", "ssl", "none")
TIMEOUT = 20.0
MAX_SUBJECT = 200
MAX_BODY = 100_000


class MailNotSet(Exception):
    """Neither the store nor the hub has an SMTP server set (said: a caller that keeps it on a row shows it in each
    reader's language)."""

    def __init__(self):
        super().__init__(Sentence(gettext_noop("no SMTP server is set for this store or the hub")))


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    security: str
    username: str
    password: str
    from_email: str
    connection: Connection | None = None  # None: the hub-wide settings

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def hub_settings() -> MailSettings | None:
    host = settings.EMAIL_HOST or ""
    if not host:
        return None
    security = "ssl" if settings.EMAIL_USE_SSL else "starttls" if settings.EMAIL_USE_TLS else "none"
    return MailSettings(host, int(settings.EMAIL_PORT), security, settings.EMAIL_HOST_USER or "",
                        settings.EMAIL_HOST_PASSWORD or "", settings.DEFAULT_FROM_EMAIL)


def store_connection(store: Store | None) -> Connection | None:
    if store is None:
        return None
    return Connection.objects.filter(store=store, service=SERVICE, enabled=True).order_by("pk").first()


def settings_for(store: Store | None) -> MailSettings | None:
    """The store's own server when it has one, else the hub's; None when mail is not set up."""
    conn = store_connection(store)
    if conn is None:
        return hub_settings()
    return from_connection(conn)


def from_connection(conn: Connection) -> MailSettings:
    opts, creds = conn.options or {}, conn.credentials()
    security = str(opts.get("security") or "starttls").lower()
    port = int(opts.get("port") or (465 if security == "ssl" else 587))
    return MailSettings(str(opts.get("host") or ""), port, security, str(creds.get("username") or ""),
                        str(creds.get("password") or ""), str(opts.get("from_email") or ""), conn)


def problems(cfg: MailSettings) -> list[Sentence]:
    """What makes these settings unusable, in words for the owner (empty: usable), said (core.sentences)."""
    out = []
    if not cfg.host:
        out.append(Sentence(gettext_noop("the SMTP host is missing")))
    if not 1 <= cfg.port <= 65535:
        out.append(Sentence(gettext_noop("the SMTP port must be between 1 and 65535")))
    if cfg.security not in SECURITY:
        out.append(Sentence(gettext_noop("security must be one of {choices}"), choices=", ".join(SECURITY)))
    if "@" not in cfg.from_email:
        out.append(Sentence(gettext_noop("the sender address (from_email) is missing")))
    if cfg.password and not cfg.username:
        out.append(Sentence(gettext_noop("a password needs a username")))
    if cfg.connection is not None and cfg.host and not _may_reach(cfg):
        out.append(Sentence(gettext_noop("{host} is not a public address; the hub's administrator must allow it "
                                         "(OCBRIDGE_SIMULATOR_HOSTS)"), host=cfg.host))
    return out


def _may_reach(cfg: MailSettings) -> bool:
    """A store's server is typed in a form: it must be public (no hub-internal host receives its password), unless
    the administrator allows it. The hub's own settings are the administrator's choice anyway."""
    if outbound.process_allowed(f"smtp://{cfg.host}:{cfg.port}"):
        return True
    try:
        outbound.public_address(cfg.host, cfg.port)
    except outbound.DestinationRefused:
        return False
    except OSError:
        return True  # does not resolve: the send says so (DNS), nothing internal is reached
    return True


def queue(key: str, *, to: list[str] | str, subject: str, body: str, store: Store | None = None,
          purpose: str = "mail", run_at=None) -> Job:
    """One mail, sent once by a job; MailNotSet when no server is set for the store or the hub."""
    if settings_for(store) is None:
        raise MailNotSet()
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients or any("@" not in r or "\n" in r for r in recipients):
        raise ValueError(Sentence(gettext_noop("not an e-mail address: {address}"), address=repr(recipients)))
    payload = {"key": key, "to": recipients, "subject": " ".join(subject.split())[:MAX_SUBJECT],
               "body": body[:MAX_BODY], "purpose": purpose}
    return Job.objects.enqueue(SendMail, key=f"mail:{key}", store=store, payload=payload, run_at=run_at)


@register_job_kind
class SendMail(JobKind):
    kind = "core.send_mail"
    max_attempts = 8

    def run(self, job: Job) -> None:
        p = job.payload
        deliver(p["key"], store=job.store, to=p["to"], subject=p["subject"], body=p["body"],
                purpose=p.get("purpose", "mail"))


def deliver(key: str, *, store: Store | None, to: list[str], subject: str, body: str, purpose: str = "mail"):
    """Inside a job: the mail under `key` through the outbox, once. Returns the outbox row (sent or unknown);
    a refusal raises TerminalError with the server's words, "not sent" raises RetryableError (the job retries)."""
    cfg = settings_for(store)
    if cfg is None:
        raise TerminalError(SERVICE, "not set",
                            Sentence(gettext_noop("no SMTP server is set for this store or the hub any more")))
    effect = outbox.request(key, kind="mail", service=SERVICE, store=store, connection=cfg.connection)
    effect = outbox.perform(effect, lambda e: send(cfg, e, to=to, subject=subject, body=body, key=key,
                                                   purpose=purpose, store=store))
    if effect.state == SideEffectState.FAILED:
        raise TerminalError(SERVICE, "refused", outbox.refusal(effect))
    return effect


def message(cfg: MailSettings, *, to: list[str], subject: str, body: str, correlation: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.from_email
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    domain = cfg.from_email.rpartition("@")[2] or "ocbridge.invalid"
    msg["Message-ID"] = f"<ocbridge.{correlation}@{domain}>"  # a resend would carry the same id: dedup-able
    msg.set_content(body)
    return msg


def send(cfg: MailSettings, effect, *, to: list[str], subject: str, body: str, key: str, purpose: str = "mail",
         store: Store | None = None) -> str:
    """Hand one message to the server; returns the server's acceptance text (its queue id) as the provider id.

    Not sent (retry): the server is unreachable, or answers 4xx before taking the message. Refused (failed, its own
    words): 5xx to the login, sender, recipients or message. Unknown: the connection broke while the message was
    being handed over — the server may have it, so it is never handed over again."""
    problem = problems(cfg)
    if problem:
        raise TerminalError(SERVICE, "settings", listed(problem))
    msg = message(cfg, to=to, subject=subject, body=body, correlation=effect.correlation)
    recorder = ExchangeRecorder(SERVICE, connection=cfg.connection, store=store,
                                secrets=[cfg.password] if cfg.password else [])
    headers = {k: str(v) for k, v in msg.items()}
    with recorder.exchange("SMTP", f"smtp://{cfg.label}", key=key, purpose=purpose, request_headers=headers,
                           request_body=body) as ex:
        answer = _deliver(cfg, msg, to)
        ex.finish(_Answer(250, answer))
    return answer[:128] or msg["Message-ID"]


class _Answer:
    """An SMTP answer in the shape ExchangeHandle.finish reads."""

    def __init__(self, code: int, text: str):
        self.status_code, self.headers, self.content = code, {}, text.encode()


def _deliver(cfg: MailSettings, msg: EmailMessage, to: list[str]) -> str:
    handed_over = False
    try:
        context = ssl.create_default_context()
        cls = smtplib.SMTP_SSL if cfg.security == "ssl" else smtplib.SMTP
        kwargs = {"context": context} if cfg.security == "ssl" else {}
        with cls(cfg.host, cfg.port, timeout=TIMEOUT, **kwargs) as smtp:
            smtp.ehlo()
            if cfg.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.username:
                smtp.login(cfg.username, cfg.password)
            code, text = smtp.mail(cfg.from_email)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, cfg.from_email)
            for rcpt in to:
                code, text = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({rcpt: (code, text)})
            handed_over = True
            # SMTP ends lines with CRLF; smtplib's data() fixes line ends only in a str, never in bytes.
            code, text = smtp.data(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
            if code != 250:  # smtplib returns the final answer instead of raising
                raise smtplib.SMTPDataError(code, text)
            answer = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the message is accepted; a failed goodbye changes nothing
            return answer
    # Said (core.sentences): an alert route's "Test:" line and the job's row read in each reader's language.
    except smtplib.SMTPAuthenticationError as exc:
        raise TerminalError(SERVICE, exc.smtp_code, Sentence(gettext_noop("the server refused the login: {detail}"),
                                                             detail=_words(exc.smtp_error))) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        words = "; ".join(f"{r}: {c} {_words(t)}" for r, (c, t) in exc.recipients.items())
        raise _by_code(min(c for c, _ in exc.recipients.values()),
                       Sentence(gettext_noop("recipient refused: {detail}"), detail=words)) from exc
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, 4xx/5xx answers
        raise _by_code(exc.smtp_code, _words(exc.smtp_error)) from exc
    except (smtplib.SMTPServerDisconnected, TimeoutError, socket.timeout, OSError, smtplib.SMTPException) as exc:
        if handed_over:
            raise UnknownOutcomeError(SERVICE, "dropped", Sentence(gettext_noop(
                "the connection broke while the message was handed over ({detail}); it may have arrived"),
                detail=str(exc))) from exc
        text = f"{cfg.label}: {exc}"
        raise RetryableError(SERVICE, "unreachable", Sentence(gettext_noop("{cause} ({detail})"),
                                                              cause=network_cause(str(exc)), detail=text)) from exc


def _by_code(code: int, words: str | Sentence):
    cls = RetryableError if 400 <= int(code) < 500 else TerminalError
    return cls(SERVICE, code, words)


def _words(text) -> str:
    return (text.decode(errors="replace") if isinstance(text, bytes) else str(text))[:500]
