"""The store as a thin façade: it hands out its roles.

A backend's store holds one object per role of ``state.store``: ``catalog``
(``CatalogSync``), ``selections``, ``posted`` (``PostedState``), ``legacy``
(``LegacyLookup``), ``reports``, ``browsing``, ``near`` (``NearDuplicates``) and
``sessions`` (``ConsoleSessions``). Code that needs one role takes that role
(``store.reports``). For code written against the whole ``Store``, a method a role
declares is found on that role: ``store.select`` is ``store.selections.select``.
"""

from __future__ import annotations

from typing import Any

from state.store import (
    Browsing,
    CatalogSync,
    ConsoleSessions,
    LegacyLookup,
    NearDuplicates,
    PostedState,
    Reports,
    Selections,
)

ROLE_NAMES = (
    "catalog", "selections", "posted", "legacy", "reports", "browsing", "near", "sessions",
)  # fmt: skip


class Roles:
    """The roles of one store, and the whole ``Store`` as the methods they declare."""

    catalog: CatalogSync
    selections: Selections
    posted: PostedState
    legacy: LegacyLookup
    reports: Reports
    browsing: Browsing
    near: NearDuplicates
    sessions: ConsoleSessions

    def _hand_out(self) -> None:
        """Index the roles' methods by name; each name belongs to one role."""
        methods: dict[str, Any] = {}
        for role_name in ROLE_NAMES:
            role = getattr(self, role_name)
            for name in dir(type(role)):
                if not name.startswith("_"):
                    assert name not in methods, f"{name} is declared by two roles"
                    methods[name] = getattr(role, name)
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        methods = self.__dict__.get("_methods", {})
        if name in methods:
            return methods[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
