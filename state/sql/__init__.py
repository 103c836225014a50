"""The statements and roles both stores share, written once in SQLite's syntax.

``dialect`` turns them into PostgreSQL's where the two differ in spelling only
(placeholders, SQLite's index hints, row locks, lists of keys); ``roles`` holds the
roles written once over a store's ``transactions``. Each backend's package keeps what
truly differs (schema and migrations, the pool and its locking, bulk loads, how a page
and a group are written) and hands it to these modules through ``dialect.Ops``,
``catalog.Images``, ``grouping.Writes``, ``choosing.Leasing`` and its roles' ``Pages``,
``CatchUp`` and ``Hashing``; ``store.Roles`` composes the roles either store hands out.
"""
