"""PostgreSQL: without its driver, a URL is refused in one line; a server that closes the bot's connections (a restart, a failover, an
administrator's pg_terminate_backend) costs nothing but new connections — the next read, the
next read snapshot and the next write all work, and no transaction is half-applied."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection

from storage import screenings
from storage.anchor import DatabaseRefused
from storage.db import Database
from storage.open import open_database
from storage.sql import value

PID = "SELECT pg_backend_pid()"


async def _backend_pids(db: Database) -> list[int]:
    """The server processes behind a read snapshot and behind the writer."""
    return [int(await db.read(value, PID)), int(await db.write(value, PID))]


def _terminate(server: str, pids: list[int]) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_connections_closed_by_the_server_are_opened_again(
    postgres_server_url: str, postgres_target: str
) -> None:
    db = await open_database(postgres_target)
    try:
        await db.write(screenings.set_meta, "before", "1")
        before = await _backend_pids(db)
        _terminate(postgres_server_url, before)

        assert await db.read(screenings.get_meta, "before") == "1"  # a read snapshot
        await db.write(screenings.set_meta, "after", "2")  # the writer, at its next BEGIN
        assert await db.read(screenings.get_meta, "after") == "2"
        assert set(await _backend_pids(db)).isdisjoint(before)  # all new connections
    finally:
        await db.close()


async def test_without_the_driver_a_postgresql_url_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` raises ImportError
    with pytest.raises(DatabaseRefused, match=r"pip install 'lysyme-bot\[postgresql\]'"):
        await open_database("postgresql://bot@db.example:5432/lysyme")


async def test_read_snapshots_never_use_more_connections_than_the_pool_size(
    postgres_target: str,
) -> None:
    """LYSYME_DATABASE_POOL_SIZE counts every connection of the process: 20 overlapping read
    snapshots share what is left after the writer — never more, and not one at a time."""
    pool_size = 4
    db = await open_database(postgres_target, pool_size=pool_size)
    counting = threading.Lock()
    busy = 0
    most = 0
    backends: set[int] = set()
    two_in = (
        threading.Event()
    )  # a barrier: the first two reads hold their connection till both are in
    gave_up = threading.Event()  # (reads that never overlap: fail in seconds, not minutes)

    def one_read(conn: Connection) -> None:
        nonlocal busy, most
        with counting:
            busy += 1
            most = max(most, busy)
            if busy == 2:
                two_in.set()
        try:
            backends.add(int(value(conn, PID)))
            if not gave_up.is_set() and not two_in.wait(timeout=10):
                gave_up.set()
        finally:
            with counting:
                busy -= 1

    try:
        writer = await db.write(value, PID)
        await asyncio.gather(*(db.read(one_read) for _ in range(20)))
        assert not gave_up.is_set(), "read snapshots never overlapped"
        assert 2 <= most <= pool_size - 1  # the writer holds one of the pool's connections
        assert 2 <= len(backends) <= pool_size - 1 and writer not in backends
    finally:
        await db.close()


def test_init_on_postgresql_creates_once_and_never_sets_a_database_aside(
    postgres_target: str, tmp_path: Path
) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "LYSYME_DATABASE": postgres_target}  # fmt: skip

    def init(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", "init", *extra], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip

    first = init()
    assert first.returncode == 0 and first.stdout.startswith("init: new database postgresql://")
    for again in (init(), init("--force")):
        assert again.returncode == 2 and again.stdout == ""
        assert again.stderr.count("\n") == 1 and "already holds a LYSYME database" in again.stderr


async def test_a_statement_stuck_on_a_silent_network_fails_at_once_when_the_database_is_cut(
    postgres_target: str,
) -> None:
    """`Database.abort()` (a stop the database holds up, bot/app.py): from another thread, every
    connection is cut; the statement waiting on a network that went silent fails at once, and
    nothing is opened again."""

    from storage.errors import StorageError
    from tests.e2e.test_fencing_e2e import LoopbackProxy

    proxy, through = LoopbackProxy.in_front_of(postgres_target)
    db = await open_database(through, lease=3.0)
    try:
        assert await db.read(value, "SELECT 1") == 1
        proxy.drop()
        stuck = [
            asyncio.ensure_future(db.read(value, "SELECT 2")),
            asyncio.ensure_future(db.write(screenings.set_meta, "cut", "1")),
        ]
        done, _ = await asyncio.wait(stuck, timeout=1.0)
        assert not done  # nothing answers: the network is silent
        threading.Thread(target=db.abort).start()
        for future in stuck:
            with pytest.raises(StorageError):
                await asyncio.wait_for(future, 5)
        with pytest.raises(StorageError):  # not opened again (it would wait on the network)
            await asyncio.wait_for(db.write(screenings.set_meta, "cut", "2"), 5)
        await asyncio.wait_for(db.close(), 5)
    finally:
        proxy.close()
