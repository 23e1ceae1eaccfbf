"""Words the reader sees come from the shop (status, payment method) or the catalog (error pages), never codes."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_status_and_payment_method_are_named_as_the_shop_names_them(client_in, sqlite_shop):
    from django.core.cache import cache

    from ocbridge.core.models import Integration, Store
    from ocbridge.integrations.cod_confirm.models import Confirmation
    from ocbridge.opencart import seed

    shop = sqlite_shop()
    seed.place_order(shop.url, version="3.0")
    store = Store.objects.create(name="S", db_url=shop.url, language="tr")
    integ = Integration.objects.create(store=store, kind="cod_confirm")
    c = Confirmation.objects.create(store=store, integration=integ, order_id=1, order_label="1", status_at_start=1,
                                    payment_code="cod", state="confirmed", history_status_id=2)
    cache.clear()
    client_in.cookies["django_language"] = "tr"
    html = client_in.get(reverse("dashboard:confirmation", args=[c.pk])).content.decode()
    assert "İşleniyor (2)" in html
    client_in.cookies["django_language"] = "ru"
    html = client_in.get(reverse("dashboard:confirmation", args=[c.pk])).content.decode()
    assert "В обработке (2)" in html


def test_unreachable_shop_shows_the_ids_without_waiting_again(client_in, store):
    from django.core.cache import cache

    from ocbridge.dashboard import shopnames

    cache.clear()  # store ids repeat across tests

    assert shopnames.status_name(store, 2) == "2" and shopnames.payment_title(store, "cod") == "cod"


@pytest.mark.parametrize("lang,words", [("tr", "Sayfa bulunamadı"), ("ru", "Страница не найдена")])
def test_404_is_a_styled_page_in_the_readers_language(client_in, settings, lang, words):
    settings.DEBUG = False
    client_in.cookies["django_language"] = lang
    resp = client_in.get("/no/such/page/")
    html = resp.content.decode()
    assert resp.status_code == 404 and words in html and "app.css" in html and "Not Found" not in html


def test_500_page_renders_without_a_request_context():
    from django.template import loader
    from django.utils import translation

    with translation.override("ru"):
        html = loader.get_template("500.html").render()
    assert "Что-то пошло не так" in html and "app.css" in html
