"""The payments test bed lives in tests/paykit.py (the browser tests use it too)."""

from paykit import CREDS, Bed, aps_bed, lat_bed, latitude_pays  # noqa: F401
