"""What a catch-up does its own way on SQLite (``state.sql.roles.catalog``).

One process holds the state directory: every catch-up turn is its own and nobody else
can ask for one (``state.sql.roles.one_process``). Pages reach ``files`` by
``executemany`` (``state.sqlite.catalog``); SQLite's planner needs no fresh statistics
after them.
"""

from __future__ import annotations

from state.sql.roles.catalog import Pages
from state.sqlite import catalog, first_listing

PAGES = Pages(catalog.IMAGES, catalog.Batch, first_listing)
