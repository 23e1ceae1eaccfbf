"""Phone numbers from OpenCart's free-text `telephone` column → E.164 (the key of our phone index)."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_EXT = re.compile(r"(?<![^\W\d_])(?:ext|extension|dahili|dah|доб|добавочный|x)\.?\s*:?\s*\d{1,6}(?!\d)", re.IGNORECASE)
# A run of digits with the separators people type inside one number (spaces, brackets, dots, dashes).
_RUN = re.compile(r"\+*[(\d][\d\s().\-]*[\d)]|\d")
_LETTER = re.compile(r"[^\W\d_]")


def numbers(raw: str | None, countries=("TR",)) -> list[str]:
    """Every callable number in a free-text `telephone` field, as E.164, in the order written.

    Shops hold more than a number: labels and words (`Tel: 0532 …`, `… (Ayşe)`, `cep … ev …`), several
    numbers (`0532 … / 0212 …`, `…, …`, two numbers typed one after the other), extensions (`dahili 12`,
    `ext. 5`, `доб. 123`: dropped, the main number is called). A digit run touching a letter (`O532…`,
    `05XX…`, a Cyrillic З for 3) is a typo or a placeholder, never read. National forms are read with the
    first of `countries` that makes them valid — the order's shipping country, then its payment country,
    then the store's — so `8 912 345 67 89` on an order shipped to Russia is +7… even in a Turkish store.
    """
    if not raw:
        return []
    text = _EXT.sub(" ", unicodedata.normalize("NFKC", str(raw)).replace("\x00", " "))
    regions = [c.upper() for c in countries if c] or ["TR"]
    found: list[str] = []
    for m in _RUN.finditer(text):
        before, after = text[m.start() - 1:m.start()], text[m.end():m.end() + 1]
        if _LETTER.match(before) or _LETTER.match(after):
            continue
        for e164 in _split_run(m.group(), regions):
            if e164 not in found:
                found.append(e164)
    return found


def normalize(raw: str | None, country: str = "TR", *, countries=()) -> str | None:
    """The first number of the field as E.164 (`+905321234567`), or None when there is none we can call.

    `countries` (the order's shipping and payment country) are tried before `country` (the store's) for
    national forms: `0532 123 45 67`, `5321234567` in TR; `8 912 345 67 89` in RU. International forms
    (`+90…`, `0090…`, `+7 (912)…`) work in any country.
    """
    found = numbers(raw, [*countries, country or "TR"])
    return found[0] if found else None


def _split_run(run: str, regions: list[str]) -> list[str]:
    """One number, or several typed one after the other (`05321234567 05331234567`): the longest valid
    groups of whitespace-separated parts from the left; parts that make no number are skipped."""
    whole = _one(run, regions)
    if whole:
        return [whole]
    parts = run.split()
    out, i = [], 0
    while i < len(parts):
        for j in range(len(parts), i, -1):
            e164 = _one(" ".join(parts[i:j]), regions) if j - i < len(parts) else None
            if e164:
                out.append(e164)
                i = j
                break
        else:
            if parts[i].startswith("+"):
                break  # an international prefix that makes no number: the digits after it are not ours to guess
            i += 1
    return out


def _one(text: str, regions: list[str]) -> str | None:
    text = re.sub(r"^\++", "+", text.strip())
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 17:
        return None
    candidate = "+" + digits[2:] if text.startswith("00") else text
    for region in regions:
        try:
            num = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        if candidate.startswith("+"):
            return None  # an international form means the same in every region
    # Digits that already carry a country code but no "+" (905321234567, 79123456789); 11+ digits only,
    # or a bare national number would be read as some other country's (5321234567 as Cuba +53).
    if len(digits) < 11:
        return None
    try:
        num = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(num):
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return None


def national_forms(e164: str) -> list[str]:
    """Ways the number may have been typed in the shop: digits with and without trunk and country code.

    Used to match numbers stored before we indexed them, and for display; most specific first.
    """
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return []
    nsn = phonenumbers.national_significant_number(num)
    cc = str(num.country_code)
    national = re.sub(r"\D", "", phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL))
    forms = [f"+{cc}{nsn}", f"00{cc}{nsn}", f"{cc}{nsn}", national, nsn]
    out: list[str] = []
    for f in forms:
        if f not in out:
            out.append(f)
    return out


def last_digits(e164: str, n: int = 10) -> str:
    """The last n digits (what naive modules match with LIKE '%…')."""
    return re.sub(r"\D", "", e164)[-n:]


def mask(e164: str | None) -> str:
    """Shortened for logs and lists: +90532*****67."""
    if not e164:
        return ""
    return e164[:6] + "*" * max(0, len(e164) - 8) + e164[-2:]
