"""Order-history writes through OpenCart's API use the process's one HTTP client for the shop's host
(core.http.shared_client: building a client loads the certificate store, ~54 ms of CPU per write before), while each
store and API user keeps its own session — token and the cookie its login set — sent only with its own calls."""

import pytest
import sqlalchemy as sa

from ocbridge.core import http
from ocbridge.opencart import api, writes
from ocbridge.opencart.reference import DEFAULT_API_KEY, complete_row

from opencart.opencart_helpers import add_order, scalar
from opencart.writes_helpers import make_store

pytestmark = pytest.mark.django_db
LAYOUTS = ["2.3", "3.0", "4.0.0", "4.0"]
SECOND_KEY = "second-api-user-" + "fedcba9876543210" * 8


@pytest.fixture
def clients_built(monkeypatch):
    """The HTTP clients built for the shop's API during the test."""
    built = []
    init = http.HttpClient.__init__

    def counting(self, service, *args, **kwargs):
        if service == api.SERVICE:
            built.append(self)
        init(self, service, *args, **kwargs)

    monkeypatch.setattr(http.HttpClient, "__init__", counting)
    return built


@pytest.fixture
def shop(opencart_db, api_simulator):
    """A shop with two API users (Default for store 0, `second` for store 1) behind one simulated host."""
    def make(layout):
        h = opencart_db(layout)
        a, ip = h.t("api"), h.t("api_ip")
        with h.engine.begin() as conn:
            conn.execute(sa.insert(a).values(complete_row(a, {"api_id": 2, "name": "second", "username": "second",
                                                              "key": SECOND_KEY, "status": 1})))
            conn.execute(sa.insert(ip).values(complete_row(ip, {"api_id": 2, "ip": "127.0.0.1"})))
        sim = api_simulator(h, layout)
        url = sim.base_url + "/"
        first = make_store(h, api_url=url, api_username="Default", secret={"api_key": DEFAULT_API_KEY})
        second = make_store(h, api_url=url, api_username="second", secret={"api_key": SECOND_KEY}, oc_store_id=1)
        return h, sim, first, second

    return make


def is_login(req) -> bool:
    return "login" in (req.arg("route") or "")


def token_of(req) -> str | None:
    return req.arg("token") or req.arg("api_token")


def order_of(req) -> int:
    return int(req.arg("order_id") or req.form()["order_id"])  # GET on 2.3/3.0, POST on 4.0 (T7)


def cookie(sim, session: dict) -> str:
    return f"{'PHPSESSID' if sim.version == '2.3' else 'OCSESSID'}={session['cookie']}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_writes_of_one_store_build_at_most_one_http_client(shop, clients_built, layout):
    h, sim, store, _ = shop(layout)
    for n in range(1, 6):
        add_order(h, n, status=1)
        r = writes.change_status(store, n, expected=1, new=2, key=f"one-client:{n}")
        assert (r.written, r.via) == (True, "api")
    assert len(clients_built) <= 1
    assert [is_login(q) for q in sim.requests(method="POST")] == [True] + [False] * 5


@pytest.mark.parametrize("layout", LAYOUTS)
def test_two_stores_on_one_host_never_send_each_others_session(shop, clients_built, layout):
    h, sim, first, second = shop(layout)
    for n in range(1, 7):  # odd orders are the first store's, even ones the second's, written in turns
        add_order(h, n, status=1, store_id=(n + 1) % 2)
        r = writes.change_status(first if n % 2 else second, n, expected=1, new=2, key=f"two-stores:{n}")
        assert r.written and r.via == "api"
    sessions = sim.sessions()
    assert sorted(s["api_id"] for s in sessions.values()) == [1, 2]
    assert len({s["session_id"] for s in sessions.values()}) == 2  # 2.3: never one PHP session for both
    posts = sim.requests(method="POST")
    assert [q.header("cookie") for q in posts if is_login(q)] == [None, None]  # each login starts clean
    for q in (q for q in posts if not is_login(q)):
        session = sessions[token_of(q)]
        assert session["api_id"] == (1 if order_of(q) % 2 else 2)  # each store's writes under its own API user
        assert q.header("cookie") == cookie(sim, session)  # with its own session's cookie only
    assert len(clients_built) <= 1  # ... over one HTTP client for the host
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history") == 6


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_ended_session_is_renewed_once_and_the_write_happens_once(shop, clients_built, layout):
    h, sim, first, second = shop(layout)
    for n in (1, 2, 3, 4):
        add_order(h, n, status=1, store_id=(n + 1) % 2)
    writes.change_status(first, 1, expected=1, new=2, key="renew:1")
    writes.change_status(second, 2, expected=1, new=2, key="renew:2")
    (old,) = [t for t, s in sim.sessions().items() if s["api_id"] == 1]
    old_cookie = cookie(sim, sim.sessions()[old])
    kept = {t: s for t, s in sim.sessions().items() if s["api_id"] == 2}
    sim.end_session(old)  # the shop dropped the first store's session (idle, or removed in its admin)
    seen = len(sim.requests())

    r = writes.change_status(first, 3, expected=1, new=7, key="renew:3")
    assert (r.written, r.state, r.current_status) == (True, "done", 7)
    refused, login, sent = sim.requests(method="POST")[-3:]
    assert len(sim.requests()) - seen == 3  # the refused call, one login, the call again: nothing more
    assert (token_of(refused), refused.header("cookie")) == (old, old_cookie)
    assert is_login(login) and login.header("cookie") is None
    new = token_of(sent)
    assert new != old and sent.header("cookie") == cookie(sim, sim.sessions()[new]) != old_cookie
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history WHERE order_id = 3") == 1  # written once

    r = writes.change_status(second, 4, expected=1, new=2, key="renew:4")  # the other store's session untouched
    assert r.written and not is_login(sim.requests(method="POST")[-1])
    assert {t: s for t, s in sim.sessions().items() if s["api_id"] == 2}.keys() == kept.keys()
    assert len(clients_built) <= 1


def test_forgotten_sessions_are_not_used_again(shop):
    """api.forget_sessions (the test fixtures' clean start): the next write logs in, never sends the old token."""
    h, sim, store, _ = shop("3.0")
    for n in (1, 2):
        add_order(h, n, status=1)
    writes.change_status(store, 1, expected=1, new=2, key="forget:1")
    api.forget_sessions()
    writes.change_status(store, 2, expected=1, new=2, key="forget:2")
    posts = sim.requests(method="POST")
    assert [is_login(q) for q in posts] == [True, False, True, False]
    assert token_of(posts[1]) != token_of(posts[3])
