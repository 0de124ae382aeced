"""Fencing (issue 23): a leader that was frozen (SIGSTOP, a GC pause, a VM freeze) for longer
than its lease wakes up to find another replica leading, and sends nothing more.

Two replicas on one PostgreSQL schema, in this process: each has its own `Database`, its own
`Leadership` and its own `Context`. The wall clock and the monotonic clock are fakes that move
together (a stopped process sees both move on); the freeze is a hook inside the frozen
replica's sweep, at the places a real stop can fall: before a row's transaction, or between
that transaction and the send. Nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection
from telegram.request import BaseRequest, RequestData

from bot import health
from bot.common import Context
from bot.fencing import LeaseLost, leader_only
from bot.reminders import state, sweep
from bot.reminders.sender import ReminderSender
from bot.telegram.leadership import LEASE, FencedRequest, Leadership
from storage import reminders as outbox
from storage.db import Database
from storage.open import open_database
from storage.sql import fetch_all
from tests.bot.test_reminders import ADMIN, FakeSend, Sent, local, settings_for
from tests.conftest import FakeClock

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

WALL0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
NOW = local(2026, 11, 20, 10)  # the trial clock (fixed: the freeze is a wall-clock matter)
ROWS = 60

T = TypeVar("T")


class FreezingDb:
    """A replica's database that stops the replica (runs `hook`) at the `nth` write transaction
    begun once `sent()` has reached `after_sends` messages: before it (`before`) or right after
    it committed. Counted from the sends, not from the sweep's start, so that a pass the sweep
    gains before its claim (the lapse of accesses, issue 24) does not move the freeze."""

    def __init__(self, inner: Database, sent: Callable[[], int]) -> None:
        self.inner = inner
        self.sent = sent
        self.after_sends = 0
        self.nth = 1
        self.seen = 0
        self.before = True
        self.hook: Callable[[], Awaitable[None]] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        due = False
        if self.hook is not None and self.sent() >= self.after_sends:
            self.seen += 1
            due = self.seen == self.nth
        if due and self.before:
            await self.hook()  # type: ignore[misc]
        result = await self.inner.write(fn, *args, **kwargs)
        if due and not self.before:
            await self.hook()  # type: ignore[misc]
        return result


@dataclass
class Replica:
    db: Database
    lead: Leadership
    ctx: Context
    send: FakeSend


@pytest.fixture
async def two(postgres_target: str) -> AsyncIterator[tuple[FakeClock, Replica, Replica]]:
    wall = FakeClock(WALL0)

    def mono() -> float:
        return (wall() - WALL0).total_seconds()

    made = []
    for name in ("replica-a", "replica-b"):
        db = await open_database(postgres_target)
        lead = Leadership(db, solo=False, wall=wall, holder=name, mono=mono)
        ctx = Context(settings=settings_for(postgres_target), db=db, clock=FakeClock(NOW))
        ctx.leads, ctx.lease = lead.live, lead.fence
        made.append(Replica(db, lead, ctx, FakeSend()))
    health.configure(None)
    try:
        yield wall, made[0], made[1]
    finally:
        for replica in made:
            await replica.db.close()


async def _queue_admin_notices(db: Database, count: int) -> None:
    """`count` admin notices due now, each a different message (one per unreachable chat)."""
    from storage import users as user_store

    def queue(conn: Connection) -> None:
        user_store.grant_roles(conn, ADMIN, {"admin"}, "test", NOW)
        for index in range(count):
            outbox.schedule(conn, None, state.ADMIN, f"unreachable:{1000 + index}:blocked",
                            NOW, [outbox.user_recipient(ADMIN)])  # fmt: skip

    await db.write(queue)


def _chats(sent: list[Sent]) -> list[str]:
    return [word for m in sent for word in m.plain.split() if word.isdigit() and len(word) == 4]


async def _states(db: Database) -> dict[str, int]:
    rows = await db.read(fetch_all, "SELECT state, COUNT(*) AS n FROM reminders GROUP BY state")
    return {r["state"]: r["n"] for r in rows}


@pytest.mark.parametrize("where", ["before a row's transaction", "between it and the send"])
async def test_a_leader_frozen_mid_batch_for_3_leases_sends_nothing_more(
    two: tuple[FakeClock, Replica, Replica], where: str
) -> None:
    wall, a, b = two
    assert await a.lead.step() is True and await b.lead.step() is False
    await _queue_admin_notices(a.db, ROWS)
    frozen = FreezingDb(a.db, lambda: len(a.send.sent))
    a.ctx.db = frozen  # type: ignore[assignment]

    async def the_other_replica_takes_over() -> None:
        wall.advance(seconds=3 * LEASE.total_seconds())  # a is stopped for 3 leases
        assert await b.lead.step() is True  # b takes the lead, a new epoch
        assert b.lead.epoch == a.lead.epoch + 1
        await sweep.sweep(b.ctx, NOW, b.send)  # and sends what a had claimed

    # Two transactions per row sent: once 20 are sent, the first is the 20th row's mark, the
    # second the 21st row's own (frozen before it, or between it and the send).
    frozen.after_sends, frozen.nth, frozen.before = 20, 2, where.startswith("before")
    frozen.hook = the_other_replica_takes_over
    await sweep.sweep(a.ctx, NOW, a.send)

    sent_by_a, sent_by_b = _chats(a.send.sent), _chats(b.send.sent)
    assert len(sent_by_a) == 20  # up to the freeze
    everything = sorted(sent_by_a + sent_by_b)
    assert everything == sorted(set(everything)) and len(everything) == ROWS  # 0 doubled
    assert await _states(a.db) == {"sent": ROWS}

    # Woken up, a is a standby (its lease ran out on the monotonic clock): it sends nothing.
    assert a.lead.live() is False and a.lead.role == "standby"
    sender = ReminderSender(a.ctx, a.send)
    await _queue_admin_notices(b.db, 5)
    assert await sender.round(NOW) is None
    assert len(a.send.sent) == 20
    assert await a.lead.step() is False  # and the lease is b's


async def test_a_resumed_ex_leader_that_still_thinks_it_leads_claims_nothing(
    two: tuple[FakeClock, Replica, Replica],
) -> None:
    """The idle variant: a frozen while idle; b takes over. Even a replica that still believes
    it leads (its in-memory state is stale) claims nothing: the claim checks the lease's
    holder and epoch in the database, in the claim's own transaction."""
    wall, a, b = two
    await a.lead.step()
    wall.advance(seconds=3 * LEASE.total_seconds())
    assert await b.lead.step() is True
    await _queue_admin_notices(a.db, 100)
    a.ctx.leads = lambda: True  # stale: it has not looked at its lease yet
    result = await sweep.sweep(a.ctx, NOW, a.send)
    assert result.claimed == 0 and a.send.sent == []
    assert await _states(a.db) == {"scheduled": 100}
    await sweep.sweep(b.ctx, NOW, b.send)
    assert len(b.send.sent) == 100


async def test_marks_and_releases_are_conditional_on_the_claim(
    two: tuple[FakeClock, Replica, Replica],
) -> None:
    """storage: a row is marked (or released) by its claimer only while it is still claimed
    under the same holder and epoch; an older epoch's claim is taken over at once."""
    _, a, b = two
    await _queue_admin_notices(a.db, 3)
    old, new = outbox.Claim("replica-a", 1), outbox.Claim("replica-b", 2)
    rows = await a.db.write(outbox.claim_due, NOW, claim=old)
    ids = [r.id for r in rows]
    # a newer epoch takes them at once (no 5 min wait)
    taken = await b.db.write(outbox.claim_due, NOW, claim=new)
    assert sorted(r.id for r in taken) == sorted(ids)

    def the_old_claimer(conn: Connection) -> None:
        assert not outbox.holds(conn, ids[0], old)
        with pytest.raises(outbox.ClaimLost):
            outbox.keep(conn, ids[0], old)
        assert outbox.release(conn, ids, claim=old) == 0  # b's claims are left alone
        assert outbox.holds(conn, ids[0], new)

    await a.db.write(the_old_claimer)
    found = await a.db.read(fetch_all, "SELECT DISTINCT claimed_by, claim_epoch FROM reminders")
    assert [(r["claimed_by"], r["claim_epoch"]) for r in found] == [("replica-b", 2)]


async def test_the_lease_runs_out_on_the_monotonic_clock_and_health_says_standby(
    two: tuple[FakeClock, Replica, Replica], tmp_path: Path
) -> None:
    wall, a, _ = two
    heartbeat = tmp_path / "lysyme-health.json"
    health.configure(heartbeat)
    try:
        assert await a.lead.step() is True
        steps_down = WALL0 + LEASE * 2 / 3
        said = health.check_heartbeats(heartbeat, steps_down - dt.timedelta(seconds=1),
                                       polling=False)  # fmt: skip
        assert said[0] == "leader"
        # A process that is stopped writes nothing: the check itself sees the lease lapse.
        said = health.check_heartbeats(heartbeat, steps_down + dt.timedelta(seconds=0.1),
                                       polling=False)  # fmt: skip
        assert said[0] == "standby"
        wall.advance(seconds=LEASE.total_seconds() * 2 / 3 - 0.5)
        assert a.lead.live() is True
        # No renewal (a frozen connection): two thirds of the lease after the last one, it is
        # a standby — a third of the lease before anyone else may take over.
        wall.advance(seconds=1)
        assert a.lead.live() is False
        said = health.check_heartbeats(heartbeat, WALL0, polling=True)
        assert said[0] == "standby"
    finally:
        health.configure(None)


class _Recorder(BaseRequest):
    def __init__(self) -> None:
        self.urls: list[str] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        self.urls.append(url)
        return 200, b'{"ok": true, "result": true}'


async def test_the_http_layer_refuses_a_leader_only_call_once_the_lease_is_not_live() -> None:
    inner = _Recorder()
    request = FencedRequest(inner)
    live = [True]
    with leader_only(lambda: live[0]):
        await request.do_request("https://api/bot1/sendMessage", "POST")
        live[0] = False
        with pytest.raises(LeaseLost):
            await request.do_request("https://api/bot1/sendMessage", "POST")
    # A reply to a user is not leader-only: it leaves whatever the lease.
    await request.do_request("https://api/bot1/sendMessage", "POST")
    assert len(inner.urls) == 2


async def test_replicas_whose_clocks_differ_by_minutes_agree_on_the_lease(
    two: tuple[FakeClock, Replica, Replica],
) -> None:
    """Lease times come from the database server's clock: a replica whose own clock is ten
    minutes ahead does not take a live leader's lease (nor does one behind keep a dead one's)."""
    _, a, b = two
    # (the server's clock is real: the replica's is ten minutes ahead of it)
    ahead = FakeClock(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    a.lead.server_clock = True
    fast = Leadership(b.db, solo=False, wall=ahead, holder="replica-b", server_clock=True)
    assert await a.lead.step() is True
    assert await fast.step() is False  # by its own clock a's lease ran out long ago
    assert await a.lead.step() is True
    fast.server_clock = False  # what its own clock would have done: taken a live lease
    assert await fast.step() is True
