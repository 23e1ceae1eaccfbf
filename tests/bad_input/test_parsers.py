"""Bad-input corpus, part 1: phone numbers and SMS replies, kept as data files beside this test."""

import json
from pathlib import Path

import pytest

from ocbridge.integrations.cod_confirm.rules import parse_reply
from ocbridge.opencart.phones import normalize

HERE = Path(__file__).parent


def _cases(name):
    rows = [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [pytest.param(r, id=f"{i}:{str(r.get('raw', r.get('text')))[:30]!r}") for i, r in enumerate(rows)]


@pytest.mark.parametrize("case", _cases("phones.jsonl"))
def test_phone(case):
    assert normalize(case["raw"], case["country"]) == case["e164"]


@pytest.mark.parametrize("case", _cases("sms_replies.jsonl"))
def test_sms_reply(case):
    assert parse_reply(case["text"]) == (case["intent"], case["order"])
