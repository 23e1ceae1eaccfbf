"""Why a record was not synced, as the owner reads it on the OneBox page: a code and its values are stored on the
record's Binding (`data["reason"]`, `data["params"]`, with the English text in `data["error"]` for logs), and shown
in the reader's language. Records OneBox itself refused keep OneBox's own words (no code)."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy

REASONS = {
    "no_email": gettext_lazy("No e-mail address: the shop needs one for a customer account."),
    "same_email": gettext_lazy("Same e-mail (%(email)s) as OneBox contact %(other)s, which is customer %(customer)s "
                               "in the shop: merge the two in OneBox."),
    "email_taken": gettext_lazy("The e-mail %(email)s belongs to customer %(customer)s in the shop."),
    "deleted": gettext_lazy("Customer %(customer)s was deleted in the shop."),
    "refused": gettext_lazy("The shop refused it: %(error)s"),
    # one record on one side, several of that name on the other: which is the same one is the owner's call
    "same_name_shop_brand": gettext_lazy("The shop has several manufacturers named “%(name)s” (%(ids)s) not linked "
                                         "to OneBox yet: merge or rename them in the shop, then press Retry."),
    "same_name_shop_category": gettext_lazy("The shop has several categories named “%(name)s” under the same parent "
                                            "(%(ids)s) not linked to OneBox yet: merge or rename them in the shop, "
                                            "then press Retry."),
    "same_name_onebox_brand": gettext_lazy("OneBox has several brands named “%(name)s” (OneBox ids %(ids)s): merge "
                                           "or rename them in OneBox, then press Retry."),
    "same_name_onebox_category": gettext_lazy("OneBox has several categories named “%(name)s” under the same parent "
                                              "(OneBox ids %(ids)s): merge or rename them in OneBox, then press Retry."),
    "deleted_in_onebox": gettext_lazy("Deleted in OneBox (OneBox id %(id)s): Retry found nothing there to take. "
                                      "Nothing was written to the shop, and this record is no longer synced."),
}


def english(reason: str, params: dict) -> str:
    with translation.override("en"):
        return str(REASONS[reason]) % params


def reason_text(data: dict) -> str:
    """A not-synced record's reason in the active language (OneBox's own words for records it refused)."""
    code = data.get("reason")
    return str(REASONS[code]) % (data.get("params") or {}) if code in REASONS else str(data.get("error") or "")
