"""OneBoxClient against the OneBox simulator over real HTTP: token and its renewal, set/get envelopes, upsert on
externalid, paging, validation errors, duplicate order codes, faults, masking, host validation.

No official SDK exists (PyPI has none). Sources of each shape, as tagged in docs/providers/onebox.md:
- [WC] CatCode Order Sync with OneBox for WooCommerce 0.2.0, Api/Client.php and readme.txt (token/get body and
  answer, `token` header, order/set root as list / numeric-keyed object, upsert on externalid, order/get by
  externalid, workflow/get as the connection test, errorArray shapes).
- [HUB] github indesit/onebox-integrations-hub @ace8a13, src/adapters/onebox/client.py and
  src/scheduler/onebox_sync.py (product/set with findbyArray articul answering ids in input order, contact/set
  findbyArray [externalid, phone], contact/get filter phones, 400 "token in header not found").
- [DOC] https://1b.app/en/api/orders (legacy /api/orders/add/, md5 password, duplicate ordercode is an error).
- [SIM] simulator only: no public source shows it.
"""

from __future__ import annotations

import hashlib

import pytest

from contracts.conftest import assert_listed
from ocbridge.core.http import HttpClient
from ocbridge.core.errors import ConfigurationError, RetryableError, TerminalError
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.services import onebox as ob
from ocbridge.services.onebox import OneBoxClient, check_base_url
from ocbridge.simulators.onebox import OneBoxSimulator

pytestmark = pytest.mark.django_db
LOGIN, PASSWORD = "api@box.example", "Rest-Api-Pa55"


@pytest.fixture(autouse=True)
def _sim_hosts(settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    ob.forget_tokens()
    yield
    ob.forget_tokens()


@pytest.fixture
def sim():
    with OneBoxSimulator(login=LOGIN, password=PASSWORD, timeout_fault_seconds=2.0) as s:
        yield s


@pytest.fixture
def conn(sim):
    store = Store.objects.create(name="Box shop")
    return Connection.objects.create(store=store, service="onebox", base_url=sim.base_url,
                                     secret={"login": LOGIN, "password": PASSWORD})


def test_token_get_posts_login_and_restapipassword_then_token_header(sim, conn):
    client = OneBoxClient(conn)
    ids = client.set("order", [{"externalid": "S-1", "name": "S-1"}], key="k1")
    assert sim.requests("/api/v2/token/get/")[0].json() == {"login": LOGIN, "restapipassword": PASSWORD}  # [WC][HUB]
    call = sim.requests("/api/v2/order/set/")[0]
    assert call.header("token") and isinstance(call.json(), list) and ids and ids[0] > 0  # [WC] token header, list root
    assert_listed("onebox", sim.requests())


def test_token_is_reused_then_renewed_once_after_expiry(sim, conn):
    client = OneBoxClient(conn)
    client.workflows()
    client.workflows()
    assert len(sim.requests("/api/v2/token/get/")) == 1
    sim.expire_tokens()  # [HUB] 400 "token in header not found" → a new token, one repeat
    assert client.workflows()[0]["name"] == "Orders"
    assert len(sim.requests("/api/v2/token/get/")) == 2


def test_wrong_password_is_terminal_and_never_logged(sim, conn):
    conn.secret = {"login": LOGIN, "password": "wrong-one"}
    conn.save()
    with pytest.raises(TerminalError) as exc:
        OneBoxClient(conn).workflows()
    assert "Invalid login" in exc.value.message  # [WC] status != 1 on token/get; wording [SIM]
    for ex in Exchange.objects.all():
        assert "wrong-one" not in ex.request_body and "wrong-one" not in str(ex.request_headers)


def test_password_and_token_masked_in_every_exchange(sim, conn):
    OneBoxClient(conn).workflows()
    token = sim.requests("/api/v2/workflow/get/")[0].header("token")
    for ex in Exchange.objects.all():
        text = " ".join(str(getattr(ex, f.attname)) for f in Exchange._meta.concrete_fields)
        assert PASSWORD not in text and token not in text


def test_order_set_upserts_on_externalid_and_get_finds_it_exactly(sim, conn):
    client = OneBoxClient(conn)
    first = client.set("order", [{"externalid": "S-10", "name": "S-10", "comment": "a"}])
    again = client.set("order", [{"externalid": "S-10", "name": "S-10", "comment": "b"}])  # [WC] upsert
    client.set("order", [{"externalid": "S-100", "name": "S-100"}])
    assert first == again and len(sim.records("order")) == 2
    found = client.find_order("S-10")
    assert found["id"] == first[0] and found["comment"] == "b"
    assert sim.requests("/api/v2/order/get/")[0].json()["filter"] == {"externalid": ["S-10"]}  # [WC]
    assert client.find_order("S-9") is None


def test_order_set_accepts_numeric_keyed_object_root(sim, conn):
    client = OneBoxClient(conn)
    data = client.call("order/set", {"0": {"externalid": "S-11"}, "1": {"externalid": "S-12"}})  # [WC]
    assert len(data) == 2


def test_product_set_answers_ids_in_input_order_matching_on_articul(sim, conn):
    client = OneBoxClient(conn)
    ids = client.set("product", [{"articul": "A", "name": "Mug", "findbyArray": ["articul"]},
                                 {"articul": "B", "name": "Cup", "findbyArray": ["articul"]}])  # [HUB]
    again = client.set("product", [{"articul": "B", "name": "Cup 2", "findbyArray": ["articul"]}])
    assert again == [ids[1]] and [p["name"] for p in sim.records("product")] == ["Mug", "Cup 2"]
    assert client.get("product", filter={"articul": "A"}, fields=["id", "articul"]) == [{"id": ids[0], "articul": "A"}]


def test_contact_set_finds_by_phone_and_get_filters_phones(sim, conn):
    client = OneBoxClient(conn)
    cid = client.set("contact", [{"name": "Ann", "phone": "905321234567", "phones": ["905321234567"],
                                  "externalid": "c-1", "findbyArray": ["externalid", "phone"]}])  # [HUB]
    same = client.set("contact", [{"name": "Ann L", "phone": "905321234567", "findbyArray": ["phone"]}])
    assert cid == same
    assert client.get("contact", filter={"phones": ["905321234567"]})[0]["id"] == cid[0]  # [HUB]


def test_contacts_and_contact_groups_changed_in_onebox_are_read_with_their_fields(sim, conn):
    """docs/providers/onebox.md §4: contact/get with `name`, `namelast`, `phone`, `phones` [HUB]; the filters
    `datemodifyfrom` and `id`, the fields `email`, `groupid`, `datemodify`, and contactgroup/get answering
    `{id, name, namelang}` [SIM]."""
    client = OneBoxClient(conn)
    group = sim.add("contactgroup", name="Wholesale", namelang={"ru": "Опт"})
    sim.add("contact", name="Ann", namelast="Lee", email="ann@example.com", phone="905321234567",
            phones=["905321234567"], groupid=group["id"])
    [g] = list(client.iter_changed("contactgroup", "2000-01-01 00:00:00"))
    assert (g["id"], g["name"], g["namelang"]) == (group["id"], "Wholesale", {"ru": "Опт"}) and g["datemodify"]
    [c] = list(client.iter_changed("contact", "2000-01-01 00:00:00"))
    assert {k: c[k] for k in ("name", "namelast", "email", "phone", "phones", "groupid")} == {
        "name": "Ann", "namelast": "Lee", "email": "ann@example.com", "phone": "905321234567",
        "phones": ["905321234567"], "groupid": group["id"]}
    assert client.get("contact", filter={"id": [c["id"]]})[0]["email"] == "ann@example.com"
    assert client.get("contactgroup", filter={"id": [group["id"]]})[0]["name"] == "Wholesale"
    assert list(client.iter_changed("contact", "2999-01-01 00:00:00")) == []  # nothing changed since
    assert_listed("onebox", sim.requests())


def test_validation_error_is_terminal_with_oneboxs_words(sim, conn):
    client = OneBoxClient(conn)
    with pytest.raises(TerminalError) as exc:
        client.set("order", [{"name": "no code"}])
    assert exc.value.message == "externalid: field is required"  # [SIM] wording; refusal shape [WC] errorArray
    sim.refuse_next("product", "price: wrong value")
    with pytest.raises(TerminalError) as exc:
        client.set("product", [{"articul": "A", "name": "Mug"}])
    assert exc.value.message == "price: wrong value"


def test_duplicate_order_code_is_terminal_and_the_order_is_there(sim, conn):
    client = OneBoxClient(conn)
    sim.duplicate_next()  # [SIM] a box that created it during a lost answer says "already exists"
    with pytest.raises(TerminalError) as exc:
        client.set("order", [{"externalid": "S-20"}])
    assert "already exists" in exc.value.message
    assert client.find_order("S-20") is not None  # [WC] read back by externalid, never sent twice


@pytest.mark.parametrize("fault", ["500", "502", "503", "429"])
def test_server_errors_and_rate_limits_are_retryable(sim, conn, fault):
    client = OneBoxClient(conn)
    client.workflows()
    sim.fail_next(fault, path="/api/v2/order/get/")
    with pytest.raises(RetryableError):
        client.find_order("S-1")
    assert client.find_order("S-1") is None  # the next call goes through


def test_timeout_is_retryable_and_garbage_too(sim, conn):
    client = OneBoxClient(conn, http=HttpClient("onebox", base_url=sim.base_url, timeout=1.0))
    client.workflows()
    sim.fail_next("timeout", path="/api/v2/order/set/", seconds=3.0)
    with pytest.raises(RetryableError):
        client.set("order", [{"externalid": "S-30"}])
    sim.fail_next("garbage", path="/api/v2/workflow/get/")
    with pytest.raises(RetryableError):
        client.workflows()


def test_changed_since_pages_through_records(sim, conn):
    client = OneBoxClient(conn)
    client.set("product", [{"articul": f"P{n}", "name": f"P{n}"} for n in range(7)])
    rows = list(client.iter_changed("product", "2000-01-01 00:00:00", limit=3))  # [SIM] datemodifyfrom, offset
    assert [r["articul"] for r in rows] == [f"P{n}" for n in range(7)]
    # each page after the first starts one record early (OneBoxClient.page_after), with the same limit
    assert [(r.json()["offset"], r.json()["limit"]) for r in sim.requests("/api/v2/product/get/")] == \
        [(0, 3), (2, 3), (4, 3), (6, 3)]


def test_workflows_and_statuses(sim, conn):
    client = OneBoxClient(conn)
    wf = client.workflows()  # [WC]
    statuses = client.workflow_statuses(wf[0]["id"])  # [SIM]
    assert [s["name"] for s in statuses][:2] == ["New", "Confirmed"]


def test_legacy_orders_add_refuses_a_duplicate_ordercode(sim, conn):
    client = OneBoxClient(conn)
    params = {"ordercode": "S-40", "clientnamefirst": "Ann", "clientphone": "+905321234567", "sum": "320",
              "productArray[0][name]": "Mug", "productArray[0][price]": "102", "productArray[0][count]": "1"}
    first = client.legacy_add_order(params)  # [DOC]
    sent = sim.requests("/api/orders/add/")[0].form()
    assert sent["password"] == hashlib.md5(PASSWORD.encode()).hexdigest() and sent["login"] == LOGIN  # [DOC] md5
    assert first["id"]
    with pytest.raises(TerminalError) as exc:
        client.legacy_add_order(params)
    assert "already exists" in exc.value.message  # [DOC] "If an order with this id exists, the API will throw an error"
    assert PASSWORD not in str(list(Exchange.objects.values_list("request_body", flat=True)))
    assert sent["password"] not in str(list(Exchange.objects.values_list("request_body", flat=True)))


@pytest.mark.parametrize("url", ["https://mybox.1b.app", "https://shop-1.crm-onebox.com/"])
def test_box_hosts_by_pattern(settings, url):
    settings.SIMULATOR_HOSTS = []
    assert check_base_url(url).startswith("https://")


@pytest.mark.parametrize("url", ["http://mybox.1b.app", "https://evil.example", "https://a.b.1b.app.evil.example",
                                 "https://user:pw@mybox.1b.app"])
def test_other_hosts_refused(settings, url):
    settings.SIMULATOR_HOSTS = []
    with pytest.raises(ConfigurationError):
        check_base_url(url)


def test_categories_and_brands_made_in_onebox_are_read_back_changed_since(sim, conn):
    """[DOC] https://1b.app/en/api/category/ and /en/api/brand/: a category has `name`, `code` (the shop's id),
    `description`, `parentid` (OneBox's id of the parent) or `parentcode` (the parent's code; unknown → empty),
    `image[]`, `hidden`; a brand `name`, `code`, `image[]`, `hidden`. [SIM] the v2 `category/get` / `brand/get`
    with `datemodifyfrom` and the `datemodify` field."""
    client = OneBoxClient(conn)
    [root] = client.set("category", [{"code": "oc-cat1", "name": "Kitchen", "findbyArray": ["code"]}])
    sim.add("category", code="K-TEA", name="Teapots", parentcode="oc-cat1", hidden=1)
    sim.add("category", code="K-LOST", name="Lids", parentcode="no-such-code")
    sim.add("brand", code="B-Z", name="Zeta")
    since = "2000-01-01 00:00:00"
    cats = {c["code"]: c for c in client.iter_changed("category", since)}
    assert (cats["K-TEA"]["parentid"], cats["K-TEA"]["parentcode"], cats["K-TEA"]["hidden"]) == (root, "oc-cat1", 1)
    assert (cats["K-LOST"]["parentid"], cats["K-LOST"]["parentcode"]) == (0, "")  # [DOC] unknown code: empty
    assert all(c["datemodify"] for c in cats.values())
    [brand] = list(client.iter_changed("brand", since))
    assert (brand["code"], brand["name"]) == ("B-Z", "Zeta")
    client.set("brand", [{"id": brand["id"], "code": "B-Z", "name": "Zeta Ltd"}])  # [SIM] `id` updates that record
    assert [b["name"] for b in sim.records("brand")] == ["Zeta Ltd"]
    assert_listed("onebox", sim.requests())
