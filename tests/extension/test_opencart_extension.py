"""Our OpenCart extension (extension/opencart/, 3.0 and 4.0): every PHP file passes `php -l`; a php-cli harness with
our own stubs of OpenCart's engine (no OpenCart code) runs the catalog side — the method is offered only when set
up, confirm records the order through OpenCart's own history with the configured status and hands the customer
to the hub — and the hub accepts exactly the URL the PHP signed (MariaDB shops, 3.0 and 4.0 layouts)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ocbridge.opencart import extension

ROOT = Path(__file__).resolve().parents[2] / "extension" / "opencart"
HARNESS = ROOT / "tests" / "harness.php"
PHP = shutil.which("php")
pytestmark = pytest.mark.skipif(PHP is None, reason="php-cli is installed by scripts/system-deps.sh test")
SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef"


def _php_files():
    return sorted(p for p in ROOT.rglob("*.php"))


def test_every_php_file_lints():
    files = _php_files()
    assert len(files) >= 12
    for path in files:
        out = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True)
        assert out.returncode == 0, (path, out.stdout, out.stderr)


def _run(layout: str, *, config: dict | None = None, session: dict | None = None, total: float = 20.0, **more) -> dict:
    scenario = {"config": {"payment_ocbridge_status": 1, "payment_ocbridge_hub_url": "https://hub.example/",
                           "payment_ocbridge_store_key": "7", "payment_ocbridge_secret": SECRET,
                           "payment_ocbridge_order_status_id": "1", **(config or {})},
                "session": session if session is not None else {"order_id": 42, "payment_method": {
                    "code": "ocbridge" if layout == "oc3" else "ocbridge.ocbridge"}},
                "total": total, **more}
    root = ROOT / ("oc3" if layout == "oc3" else "oc4")
    out = subprocess.run([PHP, str(HARNESS), layout, str(root), json.dumps(scenario)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stderr, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("layout", ["oc3", "oc4"])
def test_confirm_records_the_order_and_hands_over_a_signed_url(layout):
    result = _run(layout)
    assert result["history"] == [[42, 1]]  # OpenCart's own addOrderHistory / addHistory: its mail goes out
    url = result["json"]["redirect"]
    prefix = "https://hub.example/pay/checkout/7/42/"
    assert url.startswith(prefix) and url.endswith("/")
    ts, sig = url[len(prefix):].strip("/").split("/")
    assert sig == extension.sign(SECRET, 7, 42, int(ts))  # the hub's own computation
    code = result["method"]["code"]
    assert code == "ocbridge"
    if layout == "oc4":
        assert result["method"]["option"]["ocbridge"]["code"] == "ocbridge.ocbridge"
        assert result["views"][0][1]["action"].endswith("ocbridge.confirm&language=")  # "&", not "&amp;": for JS
        assert result["views"][0][1]["error_confirm"] == "error_confirm"


@pytest.mark.parametrize("twig, language", [
    ("oc3/upload/catalog/view/theme/default/template/extension/payment/ocbridge.twig",
     "oc3/upload/catalog/language/en-gb/extension/payment/ocbridge.php"),
    ("oc4/ocbridge/catalog/view/template/payment/ocbridge.twig", "oc4/ocbridge/catalog/language/en-gb/payment/ocbridge.php")])
def test_a_failed_confirm_is_told_to_the_customer(twig, language):
    """On a real OpenCart whose order mail failed (SMTP refused), confirm answered 500 and the button silently did
    nothing; OpenCart's own bank transfer alerts. Ours says so in the shop's words."""
    script = (ROOT / twig).read_text()
    assert "error: function" in script and "{{ error_confirm|escape('js') }}" in script
    assert "$_['error_confirm']" in (ROOT / language).read_text()


def test_oc4_before_4_0_2_uses_its_own_method_shape_and_route_separator():
    result = _run("oc4", version="4.0.1.1", session={"order_id": 5, "payment_method": {"code": "ocbridge"}})
    assert result["method"] == {"code": "ocbridge", "title": "text_title", "sort_order": None}
    assert "ocbridge|confirm" in result["views"][0][1]["action"]
    assert result["history"] == [[5, 1]]


@pytest.mark.parametrize("layout", ["oc3", "oc4"])
@pytest.mark.parametrize("config", [{"payment_ocbridge_status": 0}, {"payment_ocbridge_secret": "short"},
                                    {"payment_ocbridge_hub_url": "hub.example"}, {"payment_ocbridge_store_key": "0"}])
def test_not_offered_until_set_up(layout, config):
    assert _run(layout, config=config)["method"] == []


@pytest.mark.parametrize("layout", ["oc3", "oc4"])
def test_confirm_for_another_payment_method_records_nothing(layout):
    result = _run(layout, session={"order_id": 42, "payment_method": {"code": "cod"}})
    assert result["history"] == [] and result["json"] == {"error": "error_order"}
    result = _run(layout, session={})
    assert result["history"] == [] and "error" in result["json"]


def test_oc4_install_json_passes_opencarts_installer():
    """OpenCart 4.0.2.3's Extension Installer refuses an install.json with an empty name, version, author or link
    (found on a real 4.0.2.3: "Link must be between 3 and 128 characters!")."""
    info = json.loads((ROOT / "oc4" / "ocbridge" / "install.json").read_text())
    for field in ("name", "version", "author", "link"):
        assert 3 <= len(info[field]) <= 128, field
