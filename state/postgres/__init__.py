"""The shared PostgreSQL backend of the ``Store`` interface, for several replicas."""

from state.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
