"""The dashboard's store import: an administrator uploads the file, the report says per row what happened; a second
upload of the same file adds nothing; an unreadable file is refused with the reason."""

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ocbridge.core.models import Store

pytestmark = pytest.mark.django_db


def test_upload_reports_each_row_and_a_second_upload_adds_nothing(opencart_db):
    h = opencart_db("3.0")
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", password="x"))
    body = f"name,db_url,prefix\nMağaza Bir,{h.url},{h.prefix}\nBozuk,{h.url},yok_\n".encode()
    url = reverse("dashboard:store-import")

    def upload(data, name="stores.csv"):
        return admin.post(url, {"file": SimpleUploadedFile(name, data, "text/csv")}).content.decode()

    page = upload(body)
    assert "1 store added, 0 stores would be added, 0 stores already there, 1 row refused." in page
    assert Store.objects.get().name == "Mağaza Bir"
    admin.cookies["django_language"] = "ru"  # each count in the reader's plural form (before: "добавлено: 0, …")
    assert "0 магазинов добавлено, 0 магазинов можно добавить, 1 магазин уже подключён, 1 строка отклонена." in \
        upload(body)
    admin.cookies["django_language"] = "en"
    assert Store.objects.count() == 1
    assert "unknown columns: colour" in upload(b"name,colour\nA,red\n")
