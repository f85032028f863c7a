"""Database connections of threads that wait on something slow (a model, an HTTP tool, a transcription)."""

from django.db import connection


def connection_pooled() -> bool:
    """True when this process shares a pool of connections among its threads (DATABASE_POOL_MAX_SIZE)."""
    return bool(connection.settings_dict.get("OPTIONS", {}).get("pool"))


def connection_lend() -> None:
    """Hand this thread's connection back to the pool before a long wait on the network.

    Dozens of agent turns wait on their models at once in the `turns` worker; holding a connection each
    would need a PostgreSQL backend per waiting customer. Django opens one again (from the pool) at the next
    query. Inside a transaction the connection is the transaction, so it is kept; without a pool, closing
    would only cost a reconnect, so it is kept too.
    """
    if connection_pooled() and not connection.in_atomic_block and connection.connection is not None:
        connection.close()
