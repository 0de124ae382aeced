"""Leader and standby: which replica polls Telegram and runs the background work (issue 16).

Telegram allows one getUpdates consumer, and reminders must leave from one place (Telegram's
rate limits are per bot: one sender respects them without a shared budget). On PostgreSQL,
where several replicas share the database, one of them holds the `leader` lease
(storage/leases.py), renewing it every 5 s; the others are standbys that try to take it at the
same pace. When the leader dies (kill -9, a lost machine) its lease expires after 15 s and a
standby takes over: within 20 s (LYSYME_LEADER_LEASE_SECONDS scales all three). A leader
that cannot renew (the database unreachable) steps down before its lease can expire, so two
replicas never poll at once. A clean stop gives the lease up at once.

The leader polls (polling mode), runs the reminder sender and the morning board. In webhook
mode every replica handles the updates the load balancer gives it; only the leader sends
reminders. On SQLite one process owns the database (its file lock): it always leads.

Lease times are wall-clock (liveness, like the health check), not the trial clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from bot import health
from storage import leases
from storage import reminders as outbox
from storage.db import Database

log = logging.getLogger("lysyme.leadership")

LEASE_NAME = "leader"
#: How long a lease lasts without renewal (LYSYME_LEADER_LEASE_SECONDS, 3–20 s), how often it
#: is renewed or tried for (a third of it), and after how long without renewal a leader steps
#: down (two thirds: before the lease can expire). A standby takes over within 4/3 of the
#: lease after the leader's death: 20 s by default, under 30 s whatever the setting.
LEASE = dt.timedelta(seconds=15)
STEP_DOWN_AFTER = LEASE * 2 / 3

WallClock = Callable[[], dt.datetime]


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Leadership:
    """Whether this process leads; `changed` is set at every change (leader ↔ standby)."""

    def __init__(
        self,
        db: Database,
        *,
        solo: bool,
        wall: WallClock = _wall,
        holder: str = "",
        lease: dt.timedelta = LEASE,
    ) -> None:
        self.db = db
        self.lease = lease
        self.renew_every = lease.total_seconds() / 3
        self.step_down_after = lease * 2 / 3
        self.holder = holder or leases.this_process()
        self.solo = solo  # SQLite: the only process, the leader from the start
        self.wall = wall
        self.leading = solo
        self.changed = asyncio.Event()
        self._renewed_at: dt.datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        #: Called when this process becomes the leader after start (a takeover).
        self.on_lead: Callable[[], None] = lambda: None
        if not solo:  # on SQLite the only process: the health check says nothing of roles
            health.set_role(self.role)

    @property
    def role(self) -> str:
        return "leader" if self.leading else "standby"

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            log.warning("this replica is now the %s", self.role)
            health.set_role(self.role)
            self.changed.set()
            if leading:
                self.on_lead()

    async def step(self) -> bool:
        """Take or renew the lease once; whether this process leads afterwards."""
        if self.solo:
            return True
        now = self.wall()
        try:
            async with self.db.transaction() as conn:
                before = await leases.current_holder(conn, LEASE_NAME)
                holds = await leases.acquire(conn, LEASE_NAME, now, self.lease, self.holder)
                taken_from = before.holder if before and before.holder != self.holder else None
                if holds and taken_from is not None:
                    # Its lease expired: it is dead (or cut off from the database, where it
                    # cannot mark anything sent). What it had claimed is sent from here.
                    released = await outbox.release_claims_of(conn, taken_from)
                    log.warning("took the lead over from %s (%d reminders it had claimed)",
                                taken_from, released)  # fmt: skip
        except Exception as exc:  # the database is unreachable: keep the lease only a while
            log.warning("leader lease not renewed: %s", exc)
            if self.leading and (
                self._renewed_at is None or now - self._renewed_at >= self.step_down_after
            ):
                self._set(False)
            return self.leading
        if holds:
            self._renewed_at = now
        health.beat("lease", now)
        self._set(holds)
        return holds

    def start(self) -> None:
        if not self.solo and self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="lysyme-leadership")

    async def _run(self) -> None:
        while not self._stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.renew_every)

    async def wait_until_leading(self, stop: asyncio.Event) -> bool:
        """Wait until this process leads (True) or `stop` is set (False)."""
        await self._wait_while(lambda: not self.leading, stop)
        return self.leading and not stop.is_set()

    async def wait_until_not_leading(self, stop: asyncio.Event) -> None:
        """Wait until this process stops leading, or `stop` is set."""
        await self._wait_while(lambda: self.leading, stop)

    async def _wait_while(self, condition: Callable[[], bool], stop: asyncio.Event) -> None:
        while condition() and not stop.is_set():
            self.changed.clear()
            if not condition():  # changed between the test and the clear
                return
            waiters = {
                asyncio.ensure_future(self.changed.wait()),
                asyncio.ensure_future(stop.wait()),
            }
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def stop(self) -> None:
        """Stop renewing and give the lease up (a standby takes over at its next try)."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            await task
        if not self.solo and self.leading:
            with contextlib.suppress(Exception):
                async with self.db.transaction() as conn:
                    await leases.release(conn, LEASE_NAME, self.holder)
            self._set(False)
