"""A sentence for people that is said in one process and read in another: kept as its English text (the msgid) and
its values, and put into the reader's language when shown.

A worker has no reader: a message it stores (a failing poll's error, core.polls) used to be turned into text in the
hub's default language there. Stored as `Sentence.as_data()` instead, each page shows it in its own language
(`Sentence.from_data(...)`). The text is marked with `gettext_noop` where it is written, so makemessages finds it;
placeholders are str.format's (`{detail}`); a value may itself be a Sentence.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext


class Sentence:
    __slots__ = ("text", "values")

    def __init__(self, text: str, **values):
        self.text, self.values = str(text), values

    def __str__(self) -> str:
        """In the active language (a catalogue without this text: English)."""
        values = {k: str(v) for k, v in self.values.items()}
        try:
            return gettext(self.text).format(**values)
        except (KeyError, IndexError, ValueError):  # a translation whose placeholders went wrong: say it in English
            return self.text.format(**values)

    def __repr__(self) -> str:
        return f"Sentence({self.text!r}, {self.values!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Sentence) and (self.text, self.values) == (other.text, other.values)

    def english(self) -> str:
        with translation.override("en"):
            return str(self)

    def as_data(self) -> dict:
        """JSON to store: {"text": …, "values": {…}} (a Sentence value nested the same way)."""
        return {"text": self.text, "values": {k: v.as_data() if isinstance(v, Sentence) else v
                                              for k, v in self.values.items()}}

    @classmethod
    def from_data(cls, data) -> Sentence | None:
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            return None
        values = {k: cls.from_data(v) if isinstance(v, dict) else v for k, v in (data.get("values") or {}).items()}
        return cls(data["text"], **values)


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
        return {"text": data["text"], "values": {
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
