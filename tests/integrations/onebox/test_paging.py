"""OneBox lists are read by position (`limit`/`offset`: docs/providers/onebox.md §4 — no documented sort order or id
cursor; the legacy API pages nowhere either), so an edit in OneBox between two pages moves records across the page
boundary. The simulator lists by change date [SIM]: an edited record goes to the end and the next page's first
record slips back onto the page already read (`OneBoxSimulator.edit_after_get`). Nothing may be skipped: each page
starts one record early and checks it is the previous page's last; a list that moved is read again."""

from __future__ import annotations

import pytest
from testkit import assert_reads, said_in

from ocbridge.core.errors import RetryableError
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Binding, Connection, Store
from ocbridge.core.sentences import words
from ocbridge.integrations.onebox import jobs, models as m
from ocbridge.services.onebox import READ_PASSES, OneBoxClient

from integrations.onebox.conftest import LOGIN, PASSWORD
from integrations.onebox.test_catalogue_in import categories

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(sim):
    store = Store.objects.create(name="Box shop")
    conn = Connection.objects.create(store=store, service="onebox", base_url=sim.base_url,
                                     secret={"login": LOGIN, "password": PASSWORD})
    return OneBoxClient(conn)


def _brands(sim, n: int) -> list[dict]:
    return [sim.add("brand", code=f"B-{i:02d}", name=f"Brand {i:02d}") for i in range(n)]


def test_the_fault_skips_a_record_when_read_by_position_alone(sim, client):
    """The fault is real: read page by page by offset as before, a record is never seen."""
    made = _brands(sim, 7)
    sim.edit_after_get("brand", 1, "code", "B-01", name="Brand one")  # after page 1 (3 records) is answered
    seen = client.get("brand", limit=3, offset=0) + client.get("brand", limit=3, offset=3) + \
        client.get("brand", limit=3, offset=6)
    missing = {b["id"] for b in made} - {r["id"] for r in seen}
    assert missing == {made[3]["id"]}  # the next page's first record slipped back onto page 1


@pytest.mark.parametrize("after_gets", [1, 2])
def test_every_record_is_read_once_when_the_list_moves_mid_read(sim, client, after_gets):
    made = _brands(sim, 7)
    sim.edit_after_get("brand", after_gets, "code", "B-01", name="Brand one")
    rows = list(client.iter_all("brand", limit=3))
    assert sorted(r["id"] for r in rows) == sorted(b["id"] for b in made)  # all, each once
    assert next(r for r in rows if r["code"] == "B-01")["name"] in ("Brand 01", "Brand one")
    assert sim.calls()["brand/get"] > 3  # read again: the list moved


def test_a_still_list_is_read_once(sim, client):
    made = _brands(sim, 7)
    rows = list(client.iter_all("brand", limit=3))
    assert [r["id"] for r in rows] == [b["id"] for b in made]
    assert sim.calls()["brand/get"] == 4  # pages of 3 from offsets 0, 2, 4 (each one record early), then 6: the end


MOVING = {1: {"en": "OneBox's brand list kept changing while it was read (1 time); reading it again later",
              "tr": "OneBox'un brand listesi okunurken değişmeye devam etti (1 kez); daha sonra yeniden okunacak",
              "ru": "список brand в OneBox менялся во время чтения (1 раз); он будет прочитан позже"},
          READ_PASSES: {
              "en": "OneBox's brand list kept changing while it was read (3 times); reading it again later",
              "tr": "OneBox'un brand listesi okunurken değişmeye devam etti (3 kez); daha sonra yeniden okunacak",
              "ru": "список brand в OneBox менялся во время чтения (3 раза); он будет прочитан позже"},
          5: {"en": "OneBox's brand list kept changing while it was read (5 times); reading it again later",
              "tr": "OneBox'un brand listesi okunurken değişmeye devam etti (5 kez); daha sonra yeniden okunacak",
              "ru": "список brand в OneBox менялся во время чтения (5 раз); он будет прочитан позже"}}


@pytest.mark.parametrize("passes", sorted(MOVING))
def test_a_list_that_moves_in_every_read_is_retried_later_not_half_read(sim, client, passes):
    """… and says how many reads it took in each reader's plural form (before: "(1 times)", ru "раз: 3")."""
    made = _brands(sim, 7)
    for i in range(12 * passes):  # after every page, the list's first record is edited: it moves to the end
        sim.edit_after_get("brand", 1 + i, "code", f"B-{i % 7:02d}", name=f"moved {i}")
    with pytest.raises(RetryableError, match="kept changing while it was read") as moving:
        list(client.iter_all("brand", limit=3, passes=passes))
    assert len(made) == 7
    assert_reads(MOVING[passes], lambda lang: said_in(lang, lambda: words(moving.value)))


SHORT = {1: {"en": "brand/set: 1 record sent, 0 ids answered",
             "tr": "brand/set: 1 kayıt gönderildi, yanıtta 0 kimlik",
             "ru": "brand/set: 1 запись отправлена, в ответе 0 идентификаторов"},
         2: {"en": "brand/set: 2 records sent, 0 ids answered",
             "tr": "brand/set: 2 kayıt gönderildi, yanıtta 0 kimlik",
             "ru": "brand/set: 2 записи отправлено, в ответе 0 идентификаторов"}}


@pytest.mark.parametrize("records", sorted(SHORT))
def test_a_set_answered_without_its_ids_is_retried_and_says_both_counts_in_each_language(sim, client, records):
    """OneBox answering `brand/set` with success but no ids (the simulator's "empty" fault: its own envelope, no
    data): retried later; the reason counts the records sent and the ids answered, each in the reader's form."""
    sim.fail_next("empty", path="/api/v2/brand/set/")
    with pytest.raises(RetryableError) as short:
        client.set("brand", [{"code": f"B-{i}", "name": f"Brand {i}"} for i in range(records)])
    assert short.value.code == "short"
    assert_reads(SHORT[records], lambda lang: said_in(lang, lambda: words(short.value)))


def test_the_changed_since_read_catches_what_moved(sim, client):
    made = _brands(sim, 5)
    since = made[0]["datemodify"]
    sim.edit_after_get("brand", 1, "code", "B-00", name="first, edited")
    rows = list(client.iter_changed("brand", since, limit=2))
    assert {r["id"] for r in rows} == {b["id"] for b in made}


def test_the_load_of_onebox_categories_misses_none_when_one_is_edited_mid_load(shop, sim, integration):
    """The resumable load (jobs.LoadStep, one page a job) pages by position too: a record edited in OneBox between
    two steps makes the load read the list again; every category reaches the shop once."""
    integration.settings = {**integration.settings, "history_batch": 3, "flows": {"category": "in"}}
    integration.save()
    made = [sim.add("category", code=f"K-{i}", name=f"Kitchen {i}") for i in range(8)]
    sim.edit_after_get("category", 1, "code", "K-1", name="Kitchen one")  # between the first two steps
    jobs.start_load(integration, "category_in")
    run_until_idle()
    bound = set(Binding.objects.filter(kind=m.CATEGORY).values_list("external_id", flat=True))
    assert bound == {str(c["id"]) for c in made}
    names = {n["names"][1] for n in categories(shop).values()}
    assert {f"Kitchen {i}" for i in range(8) if i != 1} <= names and len(categories(shop)) == 2 + 8
    load = jobs.progress(integration, "category_in")
    assert load["finished"] and load["pass"] == 2 and not load["moved"]
