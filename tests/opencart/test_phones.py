"""Phone normalization to E.164 for every way the numbers arrive in OpenCart's free-text column."""

import pytest

from ocbridge.opencart.phones import last_digits, mask, national_forms, normalize


@pytest.mark.parametrize("raw,country,e164", [
    ("0532 123 45 67", "TR", "+905321234567"),
    ("+90 532 123 4567", "TR", "+905321234567"),
    ("5321234567", "TR", "+905321234567"),
    ("0090 542 444 55 66", "TR", "+905424445566"),
    ("0 (505) 111 22 33", "TR", "+905051112233"),
    ("(0532) 123-45-67", "TR", "+905321234567"),
    ("905321234567", "TR", "+905321234567"),
    ("+7 (912) 345-67-89", "TR", "+79123456789"),
    ("+7 (912) 345-67-89", "RU", "+79123456789"),
    ("8 912 345 67 89", "RU", "+79123456789"),
    ("+90 532 123 4567", "RU", "+905321234567"),
])
def test_valid_forms(raw, country, e164):
    assert normalize(raw, country) == e164


@pytest.mark.parametrize("raw", ["", None, "123", "telefon yok", "нет", "0532 ABC 45 67", "0000000000", "5321234567890123"])
def test_unparseable_is_none(raw):
    assert normalize(raw, "TR") is None


def test_national_number_in_the_wrong_country_is_not_guessed():
    assert normalize("5321234567", "RU") is None
    assert normalize("8 912 345 67 89", "TR") is None


def test_national_forms_and_helpers():
    assert national_forms("+905321234567") == ["+905321234567", "00905321234567", "905321234567", "05321234567",
                                               "5321234567"]
    assert "89123456789" in national_forms("+79123456789")
    assert last_digits("+905321234567") == "5321234567"
    assert mask("+905321234567") == "+90532*****67"
