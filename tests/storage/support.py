"""What the storage tests share: a pause inside a database function, to hold its transaction
open on storage's thread while the test looks from elsewhere."""

from __future__ import annotations

import asyncio
import threading

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
