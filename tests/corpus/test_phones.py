"""Phone corpus: free-text `telephone` values → E.164 (every number in the field; the first is the one we call),
read with the order's own countries before the store's; never a guess that dials a stranger."""

import pytest
from corpus.loader import params

from ocbridge.opencart import phones


@pytest.mark.parametrize("case", params("phones"))
def test_phone(case):
    countries = case.get("countries", [])
    assert phones.normalize(case["raw"], case["country"], countries=countries) == case["expected"], case
    every = case.get("all", [case["expected"]] if case["expected"] else [])
    assert phones.numbers(case["raw"], [*countries, case["country"] or "TR"]) == every, case
