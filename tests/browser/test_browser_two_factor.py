"""Two-factor login in a real browser: turn it on from the user menu (QR code shown, key typed into an
"authenticator" — pyotp here), keep the recovery codes, log out, log in: the code page comes after the password,
then the page asked for; a recovery code on a phone-sized screen. No JS errors."""

import pyotp
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(key: str, later_steps: int = 0) -> str:
    from ocbridge.core import clock

    totp = pyotp.TOTP(key)
    return totp.generate_otp(totp.timecode(clock.now()) + later_steps)


def _log_in(page, next_path="/"):
    page.goto(page.base + next_path)
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-owner-123")
    page.click("button[type=submit].primary")


def test_turn_on_then_log_in_with_a_code_and_with_a_recovery_code(logged_in):
    from ocbridge.core import clock

    page = logged_in
    page.click("header a.user")
    page.wait_for_url("**/account/two-factor/")
    assert page.locator(".qr svg").count() == 1
    key = page.locator("[data-two-factor-key]").inner_text().strip()
    page.fill("input[name=code]", _code(key))
    page.click("button[value=enrol]")
    codes = page.locator("[data-recovery-codes] code").all_inner_texts()
    assert len(codes) == 10

    page.click("header button:has-text('Log out')")
    clock.travel(30)  # the app's next code
    _log_in(page, "/stores/")
    page.wait_for_url("**/account/two-factor/verify/**")
    page.goto(page.base + "/admin/")  # nothing else opens meanwhile
    assert "/account/two-factor/verify/" in page.url
    page.fill("input[name=code]", "000000" if _code(key) != "000000" else "111111")
    page.click("button[type=submit].primary")
    assert page.locator(".errorlist").count() >= 1
    page.fill("input[name=code]", _code(key))
    page.click("button[type=submit].primary")
    page.wait_for_url("**/admin/")

    page.goto(page.base + "/")
    page.click("header button:has-text('Log out')")
    page.set_viewport_size({"width": 390, "height": 800})
    _log_in(page)
    page.wait_for_url("**/account/two-factor/verify/**")
    page.fill("input[name=code]", codes[0])
    page.click("button[type=submit].primary")
    page.wait_for_url(page.base + "/")
    assert "9 are left" in page.locator(".messages").inner_text()
    # the wrong code's 400 and the admin's /favicon.ico are expected failed loads; no script error
    assert [e for e in page.errors if "status of 400" not in e and "status of 404" not in e] == []
