"""Two-factor login for dashboard users: TOTP codes from an authenticator app (RFC 6238 through pyotp) and
one-time recovery codes.

The key is kept encrypted (TwoFactor.secret), recovery codes only as SHA-256 digests (they are random, 40 bits
each, and wrong guesses count as failed logins). A code is accepted once: its time step must be later than the last
one used. Which roles must use it is the superuser's choice (HubPolicy.two_factor_roles); anyone may turn it on.
A session is "verified" once a code was given after the password (SESSION_KEY holds the authenticator's id).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import segno
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver

from ocbridge.core import clock
from ocbridge.core.choices import Role
from ocbridge.core.models import HubPolicy, StoreMember, TwoFactor

ISSUER = "ocbridge"
SUPERUSER = "superuser"
ROLES = (SUPERUSER, Role.OWNER, Role.OPERATOR, Role.VIEWER)
SESSION_KEY = "two_factor_ok"
RECOVERY_CODES = 10
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper


def active(user) -> TwoFactor | None:
    """The user's confirmed authenticator, if any."""
    if not user or not user.is_authenticated:
        return None
    return TwoFactor.objects.filter(user=user, confirmed=True).first()


def pending(user) -> TwoFactor | None:
    """The key shown on the enrol page, not yet confirmed by a code."""
    tf = TwoFactor.objects.filter(user=user, confirmed=False).first()
    return tf if tf is not None and key_of(tf) else None


def roles_of(user) -> set[str]:
    roles = set(StoreMember.objects.filter(user=user).values_list("role", flat=True))
    return roles | {SUPERUSER} if user.is_superuser else roles


def required(user) -> bool:
    """The policy names one of the user's roles."""
    wanted = set(HubPolicy.current().two_factor_roles)
    return bool(wanted & roles_of(user)) if wanted else False


def verified(request) -> bool:
    tf_id = request.session.get(SESSION_KEY)
    return tf_id is not None and TwoFactor.objects.filter(pk=tf_id, user=request.user, confirmed=True).exists()


def mark_verified(request, tf: TwoFactor) -> None:
    request.session[SESSION_KEY] = tf.pk


@receiver(user_logged_in)
def _password_only(sender, request, user, **kwargs):
    """A fresh login starts unverified, whatever the session held before."""
    if request is not None and hasattr(request, "session"):
        request.session.pop(SESSION_KEY, None)


def start(user) -> TwoFactor:
    """A new, unconfirmed authenticator key for the enrol page (an older unconfirmed one is replaced)."""
    with transaction.atomic():
        tf, _created = TwoFactor.objects.select_for_update().get_or_create(user=user)
        if not tf.confirmed:
            tf.secret, tf.last_step, tf.recovery = {"key": pyotp.random_base32()}, 0, []
            tf.save()
    return tf


def key_of(tf: TwoFactor) -> str:
    return str(tf.secret.get("key") or "")


def provisioning_uri(tf: TwoFactor) -> str:
    return pyotp.TOTP(key_of(tf)).provisioning_uri(name=tf.user.get_username(), issuer_name=ISSUER)


def qr_svg(tf: TwoFactor) -> str:
    """The otpauth:// URI as an inline SVG QR code (scanned by the authenticator app)."""
    return segno.make(provisioning_uri(tf), error="m").svg_inline(scale=4, dark="#111", light="#fff")


def check_code(tf: TwoFactor, code: str) -> bool:
    """A current TOTP code (one step of clock drift either way), not used before. Marks its step used."""
    code = "".join(ch for ch in str(code) if ch.isdigit())
    if len(code) != 6 or not key_of(tf):
        return False
    totp, now = pyotp.TOTP(key_of(tf)), clock.now()
    for drift in (0, -1, 1):
        step = totp.timecode(now) + drift
        if hmac.compare_digest(totp.generate_otp(step), code):
            # compare-and-set on the last step: the same code twice (or two requests at once) passes once
            return TwoFactor.objects.filter(pk=tf.pk, last_step__lt=step).update(last_step=step) == 1
    return False


def _digest(code: str) -> str:
    norm = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(norm.encode()).hexdigest()


def new_recovery_codes(tf: TwoFactor) -> list[str]:
    """Fresh codes (the old ones stop working); shown once, stored as digests."""
    codes = ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(2))
             for _ in range(RECOVERY_CODES)]
    tf.recovery = [_digest(c) for c in codes]
    tf.save(update_fields=["recovery"])
    return codes


def use_recovery_code(tf: TwoFactor, code: str) -> int | None:
    """Spend one recovery code: the number left, or None when it is not one of the unused codes."""
    digest = _digest(code)
    with transaction.atomic():
        row = TwoFactor.objects.select_for_update().get(pk=tf.pk)
        if digest not in row.recovery:
            return None
        row.recovery = [d for d in row.recovery if d != digest]
        row.save(update_fields=["recovery"])
    return len(row.recovery)


def confirm(tf: TwoFactor) -> list[str]:
    """The first right code was given: the authenticator is on; returns its recovery codes."""
    tf.confirmed = True
    tf.save(update_fields=["confirmed"])
    return new_recovery_codes(tf)


def turn_off(tf: TwoFactor) -> None:
    tf.delete()
