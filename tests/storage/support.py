"""What the storage tests share: a pause inside a database function, to hold its transaction
open on storage's thread while the test looks from elsewhere; and a SQLAlchemy connection of
the test's own, outside `Database`, for tests of storage functions on their own."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import sqlalchemy
from sqlalchemy import Connection

from storage.postgres import is_postgres_url

#: Generous bound for "answers at once" (a read that waited for the lock would never finish).
PATIENCE_S = 30


class Pause:
    """Created on the event loop; `here()` is called inside a function that `Database.write`
    or `Database.read` runs (on storage's thread): it tells the test (`reached`) and blocks
    that thread — the transaction stays open — until the test calls `go()`."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.reached = asyncio.Event()
        self._go = threading.Event()

    def here(self) -> None:
        self._loop.call_soon_threadsafe(self.reached.set)
        if not self._go.wait(PATIENCE_S):
            raise TimeoutError("the test never let the transaction go on")

    async def wait(self) -> None:
        """Until the function has reached `here()` (its statements before it run, the
        transaction open)."""
        await asyncio.wait_for(self.reached.wait(), PATIENCE_S)

    def go(self) -> None:
        self._go.set()


def connect(target: Path | str) -> Connection:
    """An autocommit connection to a SQLite file or a PostgreSQL URL, outside `Database` (no
    write lock, no anchor): each statement commits on its own unless the test says BEGIN …
    COMMIT itself, as a storage function's caller would. Closing it closes the driver's."""
    if is_postgres_url(target):
        url = sqlalchemy.make_url(str(target)).set(drivername="postgresql+psycopg")
    else:
        url = sqlalchemy.URL.create("sqlite", database=str(target))
    # (SQLite: usable from another thread, one at a time — a test may write from a worker.)
    connect_args = {} if is_postgres_url(target) else {"check_same_thread": False}
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.NullPool, connect_args=connect_args)
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
