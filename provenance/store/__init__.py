"""Storage of the log and its projections.

The core talks to storage through :class:`~provenance.store.sql.SqlStore`'s small surface: a write
transaction that holds the append lock (:meth:`SqlStore.write`) and read transactions
(:meth:`SqlStore.read`). One SQLModel/SQLAlchemy implementation serves SQLite and PostgreSQL,
chosen by the database URL.
"""

from provenance.store.sql import Reader, SqlStore, WriteTransaction, default_sqlite_url

__all__ = ["Reader", "SqlStore", "WriteTransaction", "default_sqlite_url"]
