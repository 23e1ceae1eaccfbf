"""A loopback SMTP server for tests (aiosmtpd, a real SMTP implementation) with fault injection.

`faults` is a list consumed one per message: "ok", "rcpt_550" (recipient refused), "rcpt_450" (try later),
"data_451" (message refused for now), "data_554" (message refused), "drop_after_data" (the message is stored,
then the connection is cut before the 250 answer: the sender cannot know it arrived). Logins are checked
against `users` when given (AUTH needs TLS in aiosmtpd by default; allowed in the clear on loopback here).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _fault(self, stage: str) -> str:
        with self.lock:
            if self.faults and self.faults[0].startswith(stage):
                return self.faults.pop(0)
        return ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fault = self._fault("rcpt")
        if fault == "rcpt_550":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if fault == "rcpt_450":
            return "450 4.2.0 <%s>: Recipient address rejected: Greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        fault = self._fault("data") or self._fault("drop")
        if fault == "data_451":
            return "451 4.3.0 Temporary failure, try again"
        if fault == "data_554":
            return "554 5.7.1 Message rejected as spam"
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            n = len(self.messages)
        if fault == "drop_after_data":
            server.transport.abort()  # stored, but the sender never hears 250
            return "421 closing"
        return f"250 2.0.0 Ok: queued as Q{n:05d}"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user, pw = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == pw:
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class SmtpServer:
    def __init__(self):
        self.box = Mailbox()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port, auth_require_tls=False,
                                     authenticator=self.box.authenticate, auth_required=False)

    @property
    def messages(self) -> list[Message]:
        return list(self.box.messages)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
