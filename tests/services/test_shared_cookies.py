"""Two accounts (Connections of two shops) of a service on one host share one HTTP client (core.http.shared_client).
When the provider's answer to account A sets a cookie (a load balancer's sticky cookie, a CDN's, a PHP session's),
account B's requests to that host must not carry it. None of these providers reads a cookie: Twilio and Netgsm
authenticate each request (HTTP Basic, credentials in the body), Despatch Cloud and OneBox by a token in a header
bought at a login (telephony-sms.md §1-2, despatch-cloud.md §1, onebox-crm.md §1).

The cookie is set by the provider simulator (Simulator.set_cookie), our clients run unpatched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest

from ocbridge.services import despatch, onebox
from ocbridge.services.despatch import DespatchClient
from ocbridge.services.netgsm import NetgsmClient
from ocbridge.services.onebox import OneBoxClient
from ocbridge.services.twilio import TwilioClient
from ocbridge.simulators.despatch import DespatchSimulator
from ocbridge.simulators.netgsm import NetgsmSimulator
from ocbridge.simulators.onebox import OneBoxSimulator
from ocbridge.simulators.twilio import TwilioSimulator

pytestmark = pytest.mark.django_db
SID, TOKEN, FROM = "AC" + "2" * 32, "twilio-token-cookie", "+15005550006"


@dataclass
class Case:
    service: str
    simulator: Callable
    secret: dict
    options: dict
    call: Callable  # one read by a fresh client of the connection, as a job makes it


CASES = [
    Case("twilio", lambda: TwilioSimulator(account_sid=SID, auth_token=TOKEN, numbers=(FROM,)),
         {"account_sid": SID, "auth_token": TOKEN}, {"from_number": FROM}, lambda c: TwilioClient(c).balance()),
    Case("netgsm", lambda: NetgsmSimulator(usercode="8503009988", password="ng-pass", msgheaders=("SHOP",)),
         {"usercode": "8503009988", "password": "ng-pass"}, {"msgheader": "SHOP"}, lambda c: NetgsmClient(c).balance()),
    Case("despatch", lambda: DespatchSimulator(email="api@dc.example", password="dc-pass"),
         {"email": "api@dc.example", "password": "dc-pass"}, {}, lambda c: DespatchClient(c).search_orders()),
    Case("onebox", lambda: OneBoxSimulator(login="api@box.example", password="ob-pass"),
         {"login": "api@box.example", "password": "ob-pass"}, {}, lambda c: OneBoxClient(c).workflows()),
]


@pytest.fixture(autouse=True)
def _sim_hosts(settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    despatch.forget_tokens()
    onebox.forget_tokens()
    yield
    despatch.forget_tokens()
    onebox.forget_tokens()


@pytest.mark.parametrize("case", CASES, ids=[c.service for c in CASES])
def test_a_cookie_set_for_one_account_never_goes_with_anothers_requests(case, make_conn):
    with case.simulator() as sim:
        a, b = (make_conn(case.service, sim.base_url, case.secret, case.options) for _ in range(2))
        sim.set_cookie("AWSALB=account-a-sticky; Path=/", count=1)  # on the answer to A's first request
        case.call(a)
        assert sim.requests()[0].cookie_set == "AWSALB=account-a-sticky; Path=/"
        b_from = len(sim.requests())
        case.call(b)
        b_requests = sim.requests()[b_from:]
        assert b_requests, "account B made no request"
        assert [r.header("cookie") for r in b_requests] == [None] * len(b_requests)
