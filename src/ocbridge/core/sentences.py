"""A sentence for people that is said in one process and read in another: kept as its English text (the msgid) and
its values, and put into the reader's language when shown.

A worker has no reader: a message it stores (a failing poll's error, core.polls) used to be turned into text in the
hub's default language there. Stored as `Sentence.as_data()` instead, each page shows it in its own language
(`Sentence.from_data(...)`). The text is marked with `gettext_noop` where it is written, so makemessages finds it;
placeholders are str.format's (`{detail}`); a value may itself be a Sentence.

A count is said with both English forms, marked with `ngettext_noop` (makemessages finds it as a plural entry:
core's makemessages command adds the keyword) — `Sentence(*ngettext_noop("{count} call …", "{count} calls …"),
count=n)` — and shown with Django's ngettext, so each language picks its own form for `count`.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext, ngettext


def ngettext_noop(singular: str, plural: str) -> tuple[str, str]:
    """Marks a count's two English forms for makemessages (as gettext_noop marks one text); a Sentence says them."""
    return singular, plural


class Sentence:
    __slots__ = ("text", "values", "plural")

    def __init__(self, text: str, plural: str = "", /, **values):
        """`plural`: the English plural form of `text`, for a count (the form is picked by the value `count`)."""
        self.text, self.values, self.plural = str(text), values, str(plural)

    def __str__(self) -> str:
        """In the active language (a catalogue without this text: English)."""
        values = {k: str(v) for k, v in self.values.items()}
        try:
            return self._form(translated=True).format(**values)
        except (KeyError, IndexError, ValueError):  # a translation whose placeholders went wrong: say it in English
            return self._form(translated=False).format(**values)

    def _form(self, *, translated: bool) -> str:
        if not self.plural:
            return gettext(self.text) if translated else self.text
        try:
            count = int(self.values.get("count", 0))
        except (TypeError, ValueError):
            count = 0
        if translated:
            return ngettext(self.text, self.plural, count)
        return self.text if count == 1 else self.plural

    def __repr__(self) -> str:
        if self.plural:
            return f"Sentence({self.text!r}, {self.plural!r}, {self.values!r})"
        return f"Sentence({self.text!r}, {self.values!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Sentence) and (self.text, self.plural, self.values) == (
            other.text, other.plural, other.values)

    def english(self) -> str:
        with translation.override("en"):
            return str(self)

    def as_data(self) -> dict:
        """JSON to store: {"text": …, "values": {…}} (a Sentence value nested the same way), and "plural" for a
        count."""
        data = {"text": self.text,
                "values": {k: v.as_data() if isinstance(v, Sentence) else v for k, v in self.values.items()}}
        if self.plural:
            data["plural"] = self.plural
        return data

    @classmethod
    def from_data(cls, data) -> Sentence | None:
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            return None
        values = {k: cls.from_data(v) if isinstance(v, dict) else v for k, v in (data.get("values") or {}).items()}
        plural = data.get("plural")
        return cls(data["text"], plural if isinstance(plural, str) else "", **values)


def listed(items: list) -> Sentence | str:
    """Several sentences (or texts) said as one, "; " between them, each read in the reader's language."""
    from django.utils.translation import gettext_noop

    if not items:
        return ""
    out = items[0]
    for item in items[1:]:
        out = Sentence(gettext_noop("{first}; {then}"), first=out, then=item)
    return out


def said_data(exc: BaseException, secrets=()) -> dict | None:
    """What a row stores of the error's Sentence (its data, values made storable and `secrets` masked), for a page
    to show in its reader's language; None: the error has only its text."""
    sentence = sentence_of(exc)
    return storable(sentence, secrets) if sentence is not None else None


def storable(sentence: Sentence, secrets=()) -> dict:
    """A Sentence's data for a row: its text values (nested ones too) made storable and `secrets` masked."""
    from ocbridge.core.masking import mask_values, storable_text

    def clean(data: dict) -> dict:
        return {**data, "values": {  # the text (and a count's plural) as written; the values made storable
            k: clean(v) if isinstance(v, dict) else storable_text(mask_values(v[:1000], secrets)) if isinstance(v, str)
            else v for k, v in data["values"].items()}}

    return clean(sentence.as_data())


def shown(data, text: str) -> str:
    """A stored error as a page shows it: its Sentence (`data`) in the active language, else its stored text."""
    sentence = Sentence.from_data(data)
    return str(sentence) if sentence is not None else text


def words(exc: BaseException) -> str:
    """An error's own words for a page: in the reader's language where it was said so, else a ServiceError's message
    (without our "service: code" prefix), else its text."""
    sentence = sentence_of(exc)
    if sentence is not None:
        return str(sentence)
    return getattr(exc, "message", "") or str(exc)


def sentence_of(exc: BaseException) -> Sentence | None:
    """The Sentence an error was raised with (a ServiceError's `said`, or the first argument), if it was."""
    for said in (getattr(exc, "said", None), exc.args[0] if exc.args else None):
        if isinstance(said, Sentence):
            return said
    return None
