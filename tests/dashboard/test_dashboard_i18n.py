"""Translations: tr and ru catalogs complete and compiled; pages switch language; dates follow the locale."""

import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse

LOCALE = Path(__file__).resolve().parents[2] / "src" / "ocbridge" / "locale"


def _po_entries(path: Path):
    """(msgctxt, msgid, [msgstr...], fuzzy) for each entry; a small reader for our own well-formed files."""
    text = path.read_text(encoding="utf-8")
    for block in re.split(r"\n\s*\n", text):
        if block.lstrip().startswith("#~"):
            continue  # obsolete
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            m = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line)
            if m:
                current = m.group(1)
                fields[current] = m.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if "msgid" not in fields or fields["msgid"] == "":
            continue
        strs = [v for k, v in fields.items() if k.startswith("msgstr")]
        yield fields.get("msgctxt"), fields["msgid"], strs, "#, fuzzy" in block or ", fuzzy" in block


@pytest.mark.parametrize("lang", ["tr", "ru"])
def test_catalog_is_complete_and_not_fuzzy(lang):
    po = LOCALE / lang / "LC_MESSAGES" / "django.po"
    entries = list(_po_entries(po))
    assert len(entries) > 150
    empty = [msgid for _c, msgid, strs, _f in entries if not all(strs)]
    fuzzy = [msgid for _c, msgid, _s, f in entries if f]
    assert not empty, f"untranslated in {lang}: {empty[:10]}"
    assert not fuzzy, f"fuzzy in {lang}: {fuzzy[:10]}"


@pytest.mark.parametrize("lang", ["tr", "ru"])
def test_compiled_catalog_matches_po(lang):
    base = LOCALE / lang / "LC_MESSAGES"
    with open(base / "django.mo", "rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog
    for ctxt, msgid, strs, _fuzzy in _po_entries(base / "django.po"):
        key = f"{ctxt}\x04{msgid}" if ctxt else msgid
        if (key, 0) in catalog:  # plural entry
            assert catalog[(key, 0)] == strs[0].replace('\\"', '"'), msgid
        else:
            assert key.replace('\\"', '"') in catalog, f"{msgid!r} missing from {lang} .mo: run compilemessages"


@pytest.mark.django_db
@pytest.mark.parametrize("lang,words", [("tr", ["Mağazalar", "Genel bakış", "Çıkış yap"]),
                                        ("ru", ["Магазины", "Обзор", "Выйти"])])
def test_pages_render_in_the_chosen_language(client_in, lang, words):
    client_in.post(reverse("set_language"), {"language": lang, "next": "/"})
    html = client_in.get(reverse("dashboard:stores")).content.decode()
    assert f'<html lang="{lang}">' in html
    for word in words:
        assert word in html


@pytest.mark.django_db
def test_dates_follow_locale(client_in):
    from ocbridge.core.models import Job

    job = Job.objects.create(kind="core.probe", key="d1", state="failed")
    client_in.cookies["django_language"] = "tr"
    html = client_in.get(reverse("dashboard:job", args=[job.pk])).content.decode()
    assert job.created.strftime("%d.%m.%Y") in html or job.created.strftime("%-d %B %Y") in html or \
        any(m in html for m in ("Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül",
                                "Ekim", "Kasım", "Aralık"))
