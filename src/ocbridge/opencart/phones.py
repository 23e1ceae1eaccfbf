"""Phone numbers from OpenCart's free-text `telephone` column → E.164 (the key of our phone index)."""

from __future__ import annotations

import re

import phonenumbers

_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_EXT = re.compile(r"\s*(?:ext\.?|dahili|доб\.?|x)\s*\d+\s*$", re.IGNORECASE)


def normalize(raw: str | None, country: str = "TR") -> str | None:
    """E.164 (`+905321234567`) or None when the text is not a valid number for any reasonable reading.

    `country` is the store's (or the order's) ISO alpha-2 code and decides how national forms are read:
    `0532 123 45 67`, `5321234567`, `0 (505) 111 22 33` in TR; `8 912 345 67 89` in RU. International
    forms (`+90…`, `0090…`, `+7 (912)…`) work in any country.
    """
    if not raw:
        return None
    text = _EXT.sub("", str(raw).strip())
    if not text or _LETTERS.search(text):  # phonenumbers would read letters as a vanity number
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7:
        return None
    region = (country or "TR").upper()
    candidates = [text]
    if text.startswith("00"):
        candidates.append("+" + digits[2:])
    for candidate in candidates:
        try:
            num = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
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
