"""Which OneBox contact group is which shop customer group: the owner's map first (settings `group_map`), then the
groups the sync created in the shop for OneBox's (Bindings of kind CONTACT_GROUP)."""

from __future__ import annotations

from ocbridge.core.models import Binding, Integration
from ocbridge.integrations.onebox import models as m
from ocbridge.integrations.onebox.config import OneBoxConfig


def _bound(integration: Integration) -> list[tuple[int, int]]:
    rows = Binding.objects.filter(connection_id=integration.connection_id, kind=m.CONTACT_GROUP,
                                  data__state=m.OK).values_list("local_id", "external_id")
    return [(int(loc), int(ext)) for loc, ext in rows if str(loc).isdigit() and str(ext).isdigit()]


def to_onebox(integration: Integration, cfg: OneBoxConfig) -> dict[int, int]:
    """OpenCart customer_group_id → OneBox contact group id."""
    out = {oc: ob for oc, ob in _bound(integration)}
    out.update({int(oc): int(ob) for oc, ob in cfg.group_map.items() if str(oc).isdigit() and ob})
    return out


def to_shop(integration: Integration, cfg: OneBoxConfig) -> dict[int, int]:
    """OneBox contact group id → OpenCart customer_group_id (the first the owner mapped to it)."""
    out = {ob: oc for oc, ob in _bound(integration)}
    for oc, ob in reversed(list(cfg.group_map.items())):
        if str(oc).isdigit() and ob:
            out[int(ob)] = int(oc)
    return out


def mapped_by_owner(cfg: OneBoxConfig, onebox_group: int) -> bool:
    return any(int(ob or 0) == int(onebox_group) for ob in cfg.group_map.values())
