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


def test_arabic_catalog_holds_no_guesses():
    """ar covers the customer's pages only: no fuzzy entries (old guesses waiting as wrong translations) and a
    header that is not fuzzy (else compilemessages leaves it out, and Arabic's plural forms with it)."""
    text = (LOCALE / "ar" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in text and "#| msgid" not in text
    with open(LOCALE / "ar" / "LC_MESSAGES" / "django.mo", "rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    assert [catalog.plural(n) for n in (0, 1, 2, 3, 11, 100)] == [0, 1, 2, 3, 4, 5]
    assert catalog.gettext("Back to the shop") == "العودة إلى المتجر"  # a checked entry stays


@pytest.mark.skipif(__import__("shutil").which("msgmerge") is None, reason="gettext tools not installed")
def test_makemessages_leaves_a_new_arabic_entry_empty_instead_of_guessing(tmp_path):
    """msgmerge guesses a new text's translation from a similar one (fuzzy); core's makemessages keeps that for tr
    and ru (a translator checks each) but not for ar, which nobody reviews as a whole."""
    from ocbridge.core.management.commands.makemessages import Command

    head = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    (tmp_path / "django.pot").write_text(head + 'msgid "Back to the shops"\nmsgstr ""\n', encoding="utf-8")
    command = Command()
    command.domain, command.verbosity, command.no_obsolete = "django", 0, False
    po = {}
    for lang in ("ar", "tr"):
        po[lang] = tmp_path / lang / "LC_MESSAGES" / "django.po"
        po[lang].parent.mkdir(parents=True)
        po[lang].write_text(head + 'msgid "Back to the shop"\nmsgstr "x"\n', encoding="utf-8")
        command.write_po_file(str(tmp_path / "django.pot"), lang)
    assert "#, fuzzy" in po["tr"].read_text(encoding="utf-8")
    assert "#, fuzzy" not in po["ar"].read_text(encoding="utf-8")
    assert 'msgid "Back to the shops"\nmsgstr ""' in po["ar"].read_text(encoding="utf-8")


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


# --- nothing left untranslated: the catalogs hold every string of the code and templates -----------------------

SRC = LOCALE.parent


@pytest.mark.skipif(__import__("shutil").which("xgettext") is None, reason="gettext tools not installed")
def test_catalogs_hold_every_string_of_the_code_and_templates(tmp_path):
    """Re-extract the strings as makemessages does (into a copy) and compare with the committed catalogs: a string
    added to code or a template without running makemessages and translating it fails here."""
    import shutil

    from django.core.management import call_command

    copy = tmp_path / "ocbridge"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "simulators"))
    import os

    cwd = os.getcwd()
    os.chdir(copy)
    try:
        call_command("makemessages", locale=["tr"], ignore_patterns=["simulators/*", "*.egg-info"], verbosity=0,
                     add_location="file")
    finally:
        os.chdir(cwd)
    fresh = {(c, m) for c, m, _s, _f in _po_entries(copy / "locale" / "tr" / "LC_MESSAGES" / "django.po")}
    committed = {(c, m): strs for c, m, strs, _f in _po_entries(LOCALE / "tr" / "LC_MESSAGES" / "django.po")}
    missing = sorted(m for c, m in fresh if (c, m) not in committed)
    assert not missing, f"not in the committed catalog (run makemessages, translate): {missing[:10]}"


TEXT_OK = re.compile(r"^[\W\d_]*$|^(ocbridge|OpenCart|E\.164|SMS|CSV|JSON|URL|API|UTC|ID|OK|Ozon|WhatsApp)$")


def _untranslated_template_text(path: Path) -> list[str]:
    """Text a reader sees (between tags, and title/placeholder/aria-label/alt values) outside translate tags."""
    src = path.read_text(encoding="utf-8")
    src = re.sub(r"{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}", " ", src, flags=re.S)
    src = re.sub(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", " ", src, flags=re.S)
    src = re.sub(r"{{.*?}}|{%.*?%}", " ", src, flags=re.S)
    src = re.sub(r"<script.*?</script>|<style.*?</style>|<!--.*?-->", " ", src, flags=re.S | re.I)
    found = re.findall(r'(?:title|placeholder|aria-label|alt)="([^"]*[A-Za-z]{2,}[^"]*)"', src)
    text = re.sub(r"<[^>]*>", "\n", src)
    for chunk in re.split(r"\s{2,}|\n", text):
        chunk = chunk.replace("&nbsp;", " ").strip(" ·—–:|()[],.;/#→←")
        if chunk and not TEXT_OK.match(chunk) and re.search(r"[A-Za-z]{2,}", chunk):
            found.append(chunk)
    return found


def test_templates_have_no_text_outside_translate_tags():
    templates = [p for p in SRC.rglob("templates/**/*.html")]
    assert len(templates) > 15
    found = {str(p.relative_to(SRC)): t for p in templates if (t := _untranslated_template_text(p))}
    assert found == {}


def test_every_robot_reason_written_by_cod_confirm_reads_in_turkish():
    """Each `reason=` that cod_confirm writes (found in its source) is matched by a pattern in reasons.py."""
    import ast

    from django.utils import translation

    from ocbridge.integrations.cod_confirm.reasons import translate_reason

    samples = {"policy": "call", "channel": "sms", "outcome": "no_answer", "service": "verimor", "status": "7",
               "language": "ru", "telephone": "12", "number": "2", "attempts_made": "3", "skip": "customer has 3 completed orders",
               "pressed": "1", "why": "reply not understood", "message": "timeout", "text": "ne zaman"}

    def sample(node) -> str:
        if isinstance(node, ast.Constant):
            return str(node.value)
        out = ""
        for part in node.values:
            if isinstance(part, ast.Constant):
                out += part.value
                continue
            src = ast.unparse(part.value)
            value = next((v for k, v in samples.items() if k in src), "x")
            if part.format_spec is not None:
                value = "2026-12-07 10:00"
            out += repr(value) if part.conversion == ord("r") else value
        return out

    reasons = []
    for path in (SRC / "integrations" / "cod_confirm").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "reason" and isinstance(node.value, (ast.Constant,
                                                                                                 ast.JoinedStr)):
                if path.name == "actions.py":
                    continue  # AuditEntry reasons: a person's own words
                reasons.append(sample(node.value))
    assert len(reasons) > 15
    with translation.override("tr"):
        untranslated = [r for r in reasons if translate_reason(r) == r]
    assert untranslated == []
