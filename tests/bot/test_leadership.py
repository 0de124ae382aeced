"""Leader and standby (bot/telegram/leadership.py) on one PostgreSQL database, two `Database` objects
standing for two replicas; the wall clock is a parameter (no sleeping). SQLite: one process,
always the leader."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from bot import health
from bot.telegram.leadership import LEASE, STEP_DOWN_AFTER, Leadership
from storage import reminders as outbox
from storage.db import Database
from storage.errors import StorageUnavailable
from storage.open import open_database
from storage.sql import execute, fetch_one
from tests.conftest import FakeClock

T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


Pair = tuple[FakeClock, Leadership, Leadership]


def monotonic(clock: FakeClock) -> Callable[[], float]:
    """A monotonic clock that moves with the fake wall clock (a process that is stopped sees
    both move on)."""
    return lambda: (clock() - T0).total_seconds()


@pytest.fixture
def pair(replicas: tuple[Database, Database]) -> Pair:
    """Two replicas' leaderships on one wall clock: "replica-a" and "replica-b"."""
    wall = FakeClock(T0)
    a = Leadership(replicas[0], solo=False, wall=wall, holder="replica-a", mono=monotonic(wall))
    b = Leadership(replicas[1], solo=False, wall=wall, holder="replica-b", mono=monotonic(wall))
    return wall, a, b


@pytest.fixture(autouse=True)
def heartbeats_in_memory() -> Iterator[None]:
    health.configure(None)
    yield
    health.configure(None)


async def test_one_replica_leads_the_other_waits_then_takes_over_after_the_lease(
    pair: Pair,
) -> None:
    wall, a, b = pair
    assert await a.step() is True
    assert await b.step() is False
    assert (a.role, b.role) == ("leader", "standby")

    wall.advance(seconds=10)  # a renews in time: b keeps waiting
    assert await a.step() is True
    wall.advance(seconds=10)
    assert await b.step() is False

    # a dies (no renewal since T0 + 10 s): once its lease has run out, b leads.
    wall.set(T0 + dt.timedelta(seconds=10) + LEASE - dt.timedelta(seconds=1))
    assert await b.step() is False  # not yet: one second left
    wall.advance(seconds=2)
    assert await b.step() is True
    assert await a.step() is False  # a back from the dead finds itself a standby
    assert a.role == "standby" and b.role == "leader"


async def test_the_new_leader_sends_what_the_dead_one_had_claimed(
    pair: Pair, replicas: tuple[Database, Database]
) -> None:
    wall, a, b = pair
    await a.step()

    def claimed_by_a(conn: Connection) -> int:
        (row_id,) = outbox.schedule(conn, None, "board", "2026-11-30", T0, [outbox.TEAM])
        execute(
            conn,
            "UPDATE reminders SET state='claimed', claimed_by='replica-a', "
            "claimed_until=:until WHERE id=:id",
            {"until": "2026-11-30T09:00:00.000000Z", "id": row_id},
        )
        return row_id

    row_id = await replicas[0].write(claimed_by_a)
    wall.advance(seconds=LEASE.total_seconds() + 1)
    assert await b.step() is True
    row = await replicas[1].read(
        fetch_one, "SELECT state, claimed_by FROM reminders WHERE id=:id", {"id": row_id}
    )
    assert row is not None and (row["state"], row["claimed_by"]) == ("scheduled", None)


async def test_a_clean_stop_hands_the_lead_over_at_once(pair: Pair) -> None:
    _, a, b = pair
    await a.step()
    assert await b.step() is False
    await a.stop()
    assert await b.step() is True  # no waiting for the lease to expire


class _Unreachable:
    """A database that no longer answers (a network cut between the replica and the server)."""

    async def write(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable("server closed the connection unexpectedly")

    read = lease_write = write


async def test_a_leader_cut_off_from_the_database_steps_down_before_its_lease_ends(
    replicas: tuple[Database, Database],
) -> None:
    wall = FakeClock(T0)
    a = Leadership(replicas[0], solo=False, wall=wall, holder="replica-a", mono=monotonic(wall))
    assert await a.step() is True
    a.db = _Unreachable()  # type: ignore[assignment]
    wall.advance(seconds=5)
    assert await a.step() is True  # a moment's trouble: still leading (its lease runs)
    wall.advance(seconds=STEP_DOWN_AFTER.total_seconds())
    assert await a.step() is False  # stops polling before another replica can take over
    assert STEP_DOWN_AFTER < LEASE


async def test_wait_until_leading_returns_at_the_takeover(
    replicas: tuple[Database, Database],
) -> None:
    import asyncio

    wall = FakeClock(T0)
    a = Leadership(replicas[0], solo=False, wall=wall, holder="replica-a", mono=monotonic(wall))
    b = Leadership(replicas[1], solo=False, wall=wall, holder="replica-b", mono=monotonic(wall))
    await a.step()
    await b.step()
    stop = asyncio.Event()
    waiting = asyncio.create_task(b.wait_until_leading(stop))
    await asyncio.sleep(0)
    assert not waiting.done()
    wall.advance(seconds=LEASE.total_seconds() + 1)
    await b.step()
    assert await asyncio.wait_for(waiting, 5) is True


async def test_on_sqlite_the_only_process_leads(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "solo.sqlite3")
    try:
        solo = Leadership(db, solo=True)
        assert solo.leading and await solo.step() is True
    finally:
        await db.close()


def test_health_says_standby_without_expecting_polls_or_sends(tmp_path: Path) -> None:
    path = tmp_path / "lysyme-health.json"
    now = T0
    path.write_text(
        json.dumps({"role": "standby", "beats": {"lease": now.isoformat()}}), encoding="utf-8"
    )
    seen = health.check_heartbeats(path, now + dt.timedelta(seconds=3), polling=True)
    assert seen[0] == "standby"
    # A leader that never polled is not healthy; a standby whose lease tries stopped is not.
    path.write_text(json.dumps({"role": "leader", "beats": {}}), encoding="utf-8")
    with pytest.raises(health.Unhealthy, match="getUpdates"):
        health.check_heartbeats(path, now, polling=True)
    path.write_text(
        json.dumps({"role": "standby", "beats": {"lease": now.isoformat()}}), encoding="utf-8"
    )
    with pytest.raises(health.Unhealthy, match="lease"):
        health.check_heartbeats(path, now + dt.timedelta(minutes=2), polling=True)


def test_webhook_replicas_share_one_secret_without_a_configured_one() -> None:
    """Each webhook replica sets the webhook at start: on PostgreSQL they must agree on its
    secret, or the load balancer's updates to all but the last one would be refused."""
    from bot.cli.commands import _default_webhook_secret
    from tests.conftest import make_settings

    url = "postgresql://bot@db:5432/lysyme"
    token = {"TELEGRAM_BOT_TOKEN": "123456:ABCdef"}
    first = _default_webhook_secret(make_settings(url, **token))  # type: ignore[arg-type]
    second = _default_webhook_secret(make_settings(url, **token))  # type: ignore[arg-type]
    assert first == second and token["TELEGRAM_BOT_TOKEN"] not in first
    other_bot = _default_webhook_secret(make_settings(url, TELEGRAM_BOT_TOKEN="654321:XYZ"))  # type: ignore[arg-type]
    assert other_bot != first
    sqlite = make_settings(Path("bot.sqlite3"), **token)
    assert _default_webhook_secret(sqlite) != _default_webhook_secret(sqlite)  # random per run


def test_the_lease_setting_keeps_the_takeover_under_30_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.settings import SettingsError, load_settings

    monkeypatch.setenv("LYSYME_LEADER_LEASE_SECONDS", "20")  # the longest allowed
    longest = load_settings(_env_file=None).leader_lease_seconds
    lead = Leadership(None, solo=True, lease=dt.timedelta(seconds=longest))  # type: ignore[arg-type]
    # a dead leader's last renewal, then its whole lease, then one try of the standby at most
    assert lead.lease.total_seconds() + lead.renew_every < 30
    assert lead.step_down_after < lead.lease  # it stops polling before anyone may start
    monkeypatch.setenv("LYSYME_LEADER_LEASE_SECONDS", "25")
    with pytest.raises(SettingsError, match=r"^LYSYME_LEADER_LEASE_SECONDS: "):
        load_settings(_env_file=None)
