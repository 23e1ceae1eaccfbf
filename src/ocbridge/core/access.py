"""Who sees and does what in which store (DESIGN.md 2026-12-06, "Per-store access").

A user has a role per store (`StoreMember`): owner (settings, connections, users of that store), operator
(confirm/cancel, call again, test sends, retries), viewer (read only). Superusers see every store.

`scoped()` is the one function every query of store data goes through — pages, filters, CSV exports, job pages,
log entries, charts and actions: it keeps the rows of the stores where the user has at least the given role.
`get_scoped()` fetches one object for a page or an action: 404 when the user cannot see its store at all (its
existence is not confirmed), 403 when they can see it but their role does not allow the action.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from ocbridge.core.choices import Role

RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.OWNER: 3}
# How a model's rows reach their Store, tried in order (a model may also name its own in `store_path`).
STORE_PATHS = ("store", "connection__store", "integration__store", "confirmation__store")
INLINE_STORES = 100  # up to this many of a user's stores go into a query as a list of ids (see scoped)


def roles_at_least(role: str) -> list[str]:
    return [r for r, rank in RANK.items() if rank >= RANK[Role(role)]]


def sees_everything(user) -> bool:
    return bool(user and user.is_active and user.is_superuser)


def store_path(model: type[Model]) -> str:
    """The lookup from a model to its Store's id column: "pk" for Store itself."""
    from ocbridge.core.models import Store

    if model is Store:
        return "pk"
    explicit = getattr(model, "store_path", None)
    if isinstance(explicit, str):
        return explicit
    names = {f.name for f in model._meta.get_fields()}
    for path in STORE_PATHS:
        if path.split("__", 1)[0] in names:
            return path
    raise ImproperlyConfigured(f"{model.__name__} has no path to a Store; set {model.__name__}.store_path")


def scoped(rows: QuerySet | type[Model], user, role: str = Role.VIEWER) -> QuerySet:
    """The rows of `rows` (a queryset or a model) in the stores where `user` has at least `role`.

    Rows without a store (hub-wide jobs, a webhook with an unknown token) are for superusers only.
    """
    qs = rows._default_manager.all() if isinstance(rows, type) else rows
    if sees_everything(user):
        return qs
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    from ocbridge.core.models import StoreMember

    member = StoreMember.objects.filter(user=user, role__in=roles_at_least(role))
    ids = list(member.order_by("store_id").values_list("store_id", flat=True)[:INLINE_STORES + 1])
    # Few stores (the usual user): their ids written into the query. One store is then `store_id = ?`, which an
    # index (store, time) serves in page order; through a subquery the planner reads the store's rows and sorts
    # them. Many stores: the subquery, so the query stays short.
    wanted = ids if len(ids) <= INLINE_STORES else member.values("store_id")
    return qs.filter(**{f"{store_path(qs.model)}__in": wanted})


def get_scoped(rows: QuerySet | type[Model], user, role: str = Role.VIEWER, **lookup):
    """One row for a page or an action: Http404 when the user cannot see it, PermissionDenied when the role is
    too low for the action."""
    qs = rows._default_manager.all() if isinstance(rows, type) else rows
    obj = scoped(qs, user, Role.VIEWER).filter(**lookup).first()
    if obj is None:
        raise Http404(f"No {qs.model._meta.object_name} matches the given query.")
    if role != Role.VIEWER and not scoped(qs.model._default_manager.filter(pk=obj.pk), user, role).exists():
        raise PermissionDenied
    return obj


def role_in(user, store) -> str | None:
    """The user's role in this store ("owner" for superusers), None when they have none."""
    if sees_everything(user):
        return Role.OWNER
    if store is None or store.pk is None or not user.is_authenticated:
        return None
    from ocbridge.core.models import StoreMember

    return StoreMember.objects.filter(user=user, store=store).values_list("role", flat=True).first()


def can(user, store, role: str) -> bool:
    """Whether the user may do what `role` allows in this store (for showing buttons; actions use get_scoped)."""
    have = role_in(user, store)
    return have is not None and RANK[Role(have)] >= RANK[Role(role)]
