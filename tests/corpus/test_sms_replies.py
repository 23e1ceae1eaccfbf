"""SMS reply corpus (tr/ru/en, any casing, emoji, extra words, order numbers, homoglyphs) → intent + order number."""

import pytest
from corpus.loader import params

from ocbridge.integrations.cod_confirm import rules


@pytest.mark.parametrize("case", params("sms_replies"))
def test_sms_reply(case):
    intent, order = rules.parse_reply(case["text"])
    assert (str(intent), order) == (case["intent"], case["order"]), case
