"""Order totals as the customer hears and reads them, in their language: never "829.70 TRY".

Calls get words ("sekiz yüz yirmi dokuz lira yetmiş kuruş"): text-to-speech engines read a currency code letter by
letter and a decimal point as "point". Words come from num2words (ru, en, ar); Turkish is spelled here, because
num2words runs Turkish number words together ("sekizyüzyirmidokuz") and the speech engines read that as one word.
SMS gets digits written the language's way ("829,70 TL", "829,70 ₽", "829.70 SAR").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# (major singular, major plural, minor singular, minor plural) per language and currency; ru uses num2words' own
NAMES = {
    "tr": {"TRY": ("lira", "lira", "kuruş", "kuruş"), "USD": ("dolar", "dolar", "sent", "sent"),
           "EUR": ("avro", "avro", "sent", "sent"), "RUB": ("ruble", "ruble", "kopek", "kopek"),
           "SAR": ("riyal", "riyal", "halala", "halala"), "AED": ("dirhem", "dirhem", "fils", "fils")},
    "en": {"TRY": ("lira", "lira", "kurus", "kurus"), "SAR": ("riyal", "riyals", "halala", "halalas"),
           "AED": ("dirham", "dirhams", "fils", "fils"), "RUB": ("rouble", "roubles", "kopeck", "kopecks"),
           "KZT": ("tenge", "tenge", "tiyn", "tiyn")},
    "ru": {"TRY": ("турецкая лира", "турецких лир", "куруш", "курушей"), "SAR": ("риял", "риялов", "халал", "халалов"),
           "AED": ("дирхам", "дирхамов", "филс", "филсов")},
    "ar": {"SAR": ("ريال", "ريال", "هللة", "هللة"), "AED": ("درهم", "درهم", "فلس", "فلس"),
           "USD": ("دولار", "دولار", "سنت", "سنت"), "EUR": ("يورو", "يورو", "سنت", "سنت"),
           "TRY": ("ليرة", "ليرة", "قرش", "قرش"), "KWD": ("دينار", "دينار", "فلس", "فلس")},
}
AND = {"tr": " ", "en": " and ", "ru": " ", "ar": " و "}
WRITTEN = {"TRY": "TL", "RUB": "₽", "USD": "$", "EUR": "€"}

_TR_ONES = ["", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz"]
_TR_TENS = ["", "on", "yirmi", "otuz", "kırk", "elli", "altmış", "yetmiş", "seksen", "doksan"]
_TR_GROUPS = ["", "bin", "milyon", "milyar", "trilyon"]


def turkish(n: int) -> str:
    """829 → "sekiz yüz yirmi dokuz", 1000 → "bin" (not "bir bin"), 0 → "sıfır"."""
    if n == 0:
        return "sıfır"
    words: list[str] = []
    for i, group in enumerate(_group3(n)):
        if not group:
            continue
        h, t, o = group // 100, group // 10 % 10, group % 10
        part = ([] if h == 0 else (["yüz"] if h == 1 else [_TR_ONES[h], "yüz"])) + \
               ([_TR_TENS[t]] if t else []) + ([_TR_ONES[o]] if o else [])
        if i == 1 and group == 1:
            part = []  # "bin", not "bir bin"
        words = part + ([_TR_GROUPS[i]] if i else []) + words
    return " ".join(words)


def _group3(n: int) -> list[int]:
    out = []
    while n:
        out.append(n % 1000)
        n //= 1000
    return out


def _split(total) -> tuple[int, int]:
    value = Decimal(str(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(value), int((value - int(value)) * 100)


def spoken(total, currency: str, language: str) -> str:
    """The amount in words in the customer's language, for a call."""
    lang = (language or "en")[:2]
    code = (currency or "").upper()
    major, minor = _split(total)
    try:
        from num2words import num2words
    except ImportError:  # a venv made before the dependency was added: digits, until `pip install -e .` runs
        return written(total, currency, language) if lang != "tr" else _turkish_amount(major, minor, code)
    if lang in ("ru", "en") and code not in NAMES.get(lang, {}):
        try:
            text = num2words(Decimal(f"{major}.{minor:02d}"), lang=lang, to="currency", currency=code)
            return text.replace(", ", " ")
        except (NotImplementedError, KeyError):
            pass
    if lang == "tr":
        return _turkish_amount(major, minor, code)
    words = lambda n: num2words(n, lang=lang if lang in ("ru", "en", "ar") else "en")  # noqa: E731
    names = NAMES.get(lang, {}).get(code)
    if names is None:
        names = (code, code, "", "")
    out = f"{words(major)} {names[0] if major == 1 else names[1]}"
    if minor:
        out += f"{AND.get(lang, ' ')}{words(minor)} {names[2] if minor == 1 else names[3]}".rstrip()
    return out


def _turkish_amount(major: int, minor: int, code: str) -> str:
    names = NAMES["tr"].get(code, (code, code, "", ""))
    out = f"{turkish(major)} {names[0]}"
    return f"{out} {turkish(minor)} {names[2]}".rstrip() if minor else out


def written(total, currency: str, language: str) -> str:
    """The amount in digits as the customer's language writes it, for an SMS: 829,70 TL · 829,70 ₽ · 829.70 SAR."""
    lang = (language or "en")[:2]
    code = (currency or "").upper()
    value = Decimal(str(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, _, cents = f"{value:.2f}".partition(".")
    group = {"tr": ".", "ru": "\u00a0"}.get(lang, ",")
    point = "," if lang in ("tr", "ru") else "."
    return f"{int(whole):,}".replace(",", group) + f"{point}{cents} {WRITTEN.get(code, code)}".rstrip()
