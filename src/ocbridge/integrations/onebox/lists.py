"""OneBox's own lists the owner picks from: business processes, their statuses, contact groups.

Read from OneBox at most once a minute whoever asks (the settings page, the sync page's Test) and kept on the
integration's SyncState (`loads["_lists"]`), so a page shows the last lists read when OneBox does not answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ocbridge.core import clock
from ocbridge.core.models import Integration
from ocbridge.integrations.onebox import models as m

KEY = "_lists"
MAX_AGE = timedelta(minutes=1)


def cached(integration: Integration) -> dict | None:
    """The lists as last read ({at, workflows, statuses, groups}), or None when never read."""
    return ((m.SyncState.of(integration).loads or {}).get(KEY)) or None


def read(integration: Integration, *, refresh: bool = False) -> dict:
    """The lists, from OneBox when the cached ones are older than a minute (or `refresh`). Raises the client's
    ServiceError / ConfigurationError when OneBox cannot be asked."""
    from ocbridge.integrations.onebox.jobs import client_for

    have = cached(integration)
    if have and not refresh:
        try:
            if clock.now() - datetime.fromisoformat(have["at"]) < MAX_AGE:
                return have
        except (KeyError, ValueError):
            pass
    client = client_for(integration)
    lists = {
        "at": clock.now().isoformat(),
        "workflows": [{"id": int(w.get("id") or 0), "name": str(w.get("name") or "")} for w in client.workflows()],
        "statuses": [{"id": int(s.get("id") or 0), "name": str(s.get("name") or ""),
                      "workflowid": int(s.get("workflowid") or 0)} for s in client.workflow_statuses()],
        "groups": [{"id": int(g.get("id") or 0), "name": str(g.get("name") or "")}
                   for g in client.get("contactgroup", limit=500)],
    }
    state = m.SyncState.of(integration)
    state.touch(loads={**(state.loads or {}), KEY: lists})
    return lists


def status_names(integration: Integration) -> dict[int, str]:
    """OneBox status id → name, from the lists last read (the sync page's mapping table)."""
    return {s["id"]: s["name"] for s in (cached(integration) or {}).get("statuses", [])}
