"""Phone corpus: free-text `telephone` values → E.164 or None (never a guess that dials a stranger)."""

import pytest
from corpus.loader import params

from ocbridge.opencart import phones


@pytest.mark.parametrize("case", params("phones"))
def test_phone(case):
    assert phones.normalize(case["raw"], case["country"]) == case["expected"], case
