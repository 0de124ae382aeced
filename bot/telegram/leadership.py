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

Fencing (issue 23). A leader frozen for longer than its lease (SIGSTOP, a GC pause, a VM
freeze, a stalled disk) wakes up to find another replica leading. So:

* the lease's expiry is also kept on the monotonic clock (which goes on counting while the
  process is stopped): `live()` is true only until two thirds of the lease after the start of
  the last renewal that worked — a third of the lease before any other replica may take it —
  and is asked immediately before every Bot API call only a leader makes (a reminder sent,
  getUpdates, a board edited: `FencedRequest`, at the HTTP layer, and the sender before each
  row). Once it is false the replica is a standby (health says so) until it renews again;
* the lease has an epoch, one more at each takeover (storage/leases.py): every reminder claim
  carries it, a row is marked sent / failed / unknown only while still claimed under it
  (storage/reminders.py `keep`), and a new leader takes an older epoch's claims at once;
* renewal runs on a connection of its own, without the write lock (storage/postgres_db.py):
  it never waits behind a writer, a frozen one included.

Lease times in the database are wall-clock (liveness, like the health check), not the trial
clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable

from sqlalchemy import Connection

from bot import health
from bot.fencing import LEASE_NAME, check_lead
from bot.telegram.wrapped_request import WrappedRequest
from storage import leases
from storage import reminders as outbox
from storage.db import Database

log = logging.getLogger("lysyme.leadership")

#: How long a lease lasts without renewal (LYSYME_LEADER_LEASE_SECONDS, 3–20 s), how often it
#: is renewed or tried for (a third of it), and after how long without renewal a leader steps
#: down (two thirds: before the lease can expire). A standby takes over within 4/3 of the
#: lease after the leader's death: 20 s by default, under 30 s whatever the setting.
LEASE = dt.timedelta(seconds=15)
STEP_DOWN_AFTER = LEASE * 2 / 3

WallClock = Callable[[], dt.datetime]
Monotonic = Callable[[], float]


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FencedRequest(WrappedRequest):
    """The bot's HTTP layer: a call made under `leader_only` is refused (LeaseLost) when the
    lease is not live at the moment the request would leave — the last check before the
    network, after the rate limiter's wait."""

    def before(self, endpoint: str) -> None:
        check_lead(endpoint)


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
        mono: Monotonic = time.monotonic,
        server_clock: bool | None = None,
    ) -> None:
        self.db = db
        self.lease = lease
        self.renew_every = lease.total_seconds() / 3
        self.step_down_after = lease * 2 / 3
        self.holder = holder or leases.this_process()
        self.solo = solo  # SQLite: the only process, the leader from the start
        self.wall = wall
        self.mono = mono
        #: Lease times from the database server's clock (PostgreSQL), not this machine's:
        #: replicas whose clocks differ (by minutes) still agree on when a lease expires. By
        #: default whenever the wall clock is the real one (tests inject theirs).
        self.server_clock = wall is _wall if server_clock is None else server_clock
        self.leading = solo
        #: The lease's epoch while this process leads (its reminder claims carry it).
        self.epoch = 0
        #: Until when (monotonic) the lease is known to be live: two thirds of the lease after
        #: the start of the last renewal that worked.
        self._live_until: float | None = None
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._unreleased: list[tuple[str, int]] = []  # (ex-holder, our epoch) still to re-queue
        #: Called when this process becomes the leader after start (a takeover).
        self.on_lead: Callable[[], None] = lambda: None
        if not solo:  # on SQLite the only process: the health check says nothing of roles
            health.set_role(self.role)

    @property
    def role(self) -> str:
        return "leader" if self.leading else "standby"

    def live(self) -> bool:
        """Whether this process leads on a lease known to be live now (monotonic clock): asked
        immediately before each leader-only Bot API call. A lease that ran out makes it a
        standby at once (health says so), until a renewal works again."""
        if self.solo:
            return True
        if not self.leading:
            return False
        if self._live_until is None or self.mono() >= self._live_until:
            log.warning("the leader lease was not renewed in time (a pause, a stalled database)")
            self._set(False)
            return False
        return True

    def fence(self) -> tuple[str, int] | None:
        """(holder, epoch) of the lease this process holds, for its claims; None on SQLite."""
        return None if self.solo else (self.holder, self.epoch)

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
        started = self.mono()  # before the renewal: the lease runs from no later than this
        now = self.wall()

        def renew(conn: Connection) -> tuple[leases.Lease | None, leases.Lease | None]:
            at = leases.server_now(conn) if self.server_clock else now
            before = leases.current_holder(conn, LEASE_NAME)
            return before, leases.take(conn, LEASE_NAME, at, self.lease, self.holder)

        try:
            before, lease = await self.db.lease_write(renew)
        except Exception as exc:  # the database is unreachable: keep the lease only a while
            log.warning("leader lease not renewed: %s", exc)
            self.live()  # steps down once the lease is no longer known to be live
            return self.leading
        if lease is None:
            self._live_until = None
            self._set(False)
            health.beat("lease", now)
            return False
        taken_from = before.holder if before and before.holder != self.holder else None
        if taken_from is not None:
            self._unreleased.append((taken_from, lease.epoch))
        self.epoch = lease.epoch
        self._live_until = started + self.step_down_after.total_seconds()
        health.beat("lease", now)
        health.lease_renewed(now + self.step_down_after)
        await self._release_taken_over()
        if self.mono() < self._live_until:
            self._set(True)
        else:  # the renewal itself took longer than the lease is known to be live
            self.live()
        return self.leading

    async def _release_taken_over(self) -> None:
        """What the replica we took the lead from had claimed goes back to the queue (fenced:
        only while we hold the lease under that epoch). In a transaction of its own: a row
        a frozen writer still locks does not hold the takeover up (tried again next time;
        the sender takes an older epoch's claims anyway)."""
        while self._unreleased:
            taken_from, epoch = self._unreleased[0]
            try:
                released = await self.db.lease_write(
                    outbox.release_claims_of, taken_from, lease=LEASE_NAME,
                    new=outbox.Claim(self.holder, epoch),
                )  # fmt: skip
            except Exception as exc:
                log.warning("claims of %s not re-queued yet: %s", taken_from, exc)
                return
            self._unreleased.pop(0)
            log.warning("took the lead over from %s (epoch %d; %d reminders it had claimed)",
                        taken_from, epoch, released)  # fmt: skip

    def start(self) -> None:
        if not self.solo and self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="lysyme-leadership")

    async def _run(self) -> None:
        """Renew every third of the lease. A renewal that hangs (a frozen connection, a dead
        network) does not freeze the role: the lease's monotonic expiry is watched meanwhile,
        and the replica says "standby" as soon as it is no longer known to be live."""
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            while not self._stop.is_set():
                due = self.mono() + self.renew_every
                attempt = asyncio.ensure_future(self.step())
                while not self._stop.is_set():
                    now = self.mono()
                    wait = due - now
                    if self.leading and self._live_until is not None:
                        wait = min(wait, self._live_until - now)
                    if attempt.done() and wait <= 0:
                        break
                    pending = {stopping} if attempt.done() else {attempt, stopping}
                    await asyncio.wait(pending, timeout=max(0.05, wait) if wait > 0 else 0.05,
                                       return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                    self.live()  # steps down at the monotonic expiry, renewal or not
                if attempt.done():
                    with contextlib.suppress(BaseException):
                        attempt.result()
                else:  # stuck on its connection: left to fail (its statement limits), not awaited
                    attempt.cancel()
        finally:
            stopping.cancel()

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
            with contextlib.suppress(Exception):  # (a database that does not answer: expires)
                await asyncio.wait_for(self._release(), self.renew_every)
            self._set(False)

    async def _release(self) -> None:
        await self.db.lease_write(leases.release, LEASE_NAME, self.holder)
