"""The statements both stores share, written once in SQLite's syntax.

``dialect`` turns them into PostgreSQL's where the two differ in spelling only
(placeholders, SQLite's index hints); each backend's package keeps what truly differs
(schema and migrations, the pool and its locking, bulk loads) and hands it to these
modules through ``dialect.Ops``.
"""
