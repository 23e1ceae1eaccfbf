"""Loads the bad-input corpus: one JSON object per line in data/<kind>.jsonl, each with a readable `id`.

Blank lines and lines starting with `//` are comments. A case may carry `"xfail": "why"` for a known gap
(written up in the bug notes); it then runs as a strict xfail, so fixing the gap turns it red until the mark goes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def load(kind: str) -> list[dict]:
    cases, seen = [], set()
    for n, line in enumerate((DATA / f"{kind}.jsonl").read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        case = json.loads(line)
        assert case["id"] not in seen, f"{kind}.jsonl:{n}: duplicate id {case['id']}"
        seen.add(case["id"])
        cases.append(case)
    return cases


def params(kind: str) -> list:
    """pytest.param per case, id = the case's id."""
    out = []
    for case in load(kind):
        marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


def body_of(case: dict) -> bytes:
    """The raw request body: `body` (text, UTF-8), `body_hex` (exact bytes) or `body_repeat` ([text, n])."""
    if "body_hex" in case:
        return bytes.fromhex(case["body_hex"])
    if "body_b64" in case:
        return base64.b64decode(case["body_b64"])
    if "body_repeat" in case:
        text, n = case["body_repeat"]
        return (text * n).encode("utf-8")
    body = case.get("body", "")
    return (json.dumps(body, ensure_ascii=False) if not isinstance(body, str) else body).encode("utf-8")
