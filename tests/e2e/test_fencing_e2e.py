"""Fencing on real processes (issue 23): two `lysyme-bot run` replicas on one PostgreSQL
database, 150 reminders due. The leader is stopped (SIGSTOP) in the middle of the batch,
*inside a write transaction* (holding the write lock), for three times its lease, then
continued (SIGCONT).

* The standby takes the lead over within 4/3 of the lease: the frozen writer's transaction is
  ended by the server (idle_in_transaction_session_timeout, below the lease) and the renewal
  does not wait for the write lock. An admin's command sent during the stop is answered.
* The old leader, continued, sends nothing more: every reminder reaches its chat once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import ADMIN, CLINICIAN, replica_role
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.test_replicas_e2e import _replica, _wait_forreplica_role
from tests.e2e.test_restart_e2e import say
from tests.e2e.test_webhook_replicas_e2e import _wait_for_roles

LEASE = 3.0  # the replicas' LYSYME_LEADER_LEASE_SECONDS (_replica)
#: Reminders due at the start: 5 s of sending at Telegram's 30 messages/s, more than one claim
#: batch (100 rows): every fault lands mid-batch (each test asserts some were sent before it
#: and some after).
ROWS = 150
FIRST_CHAT = 100000
#: The machine running the tests is shared: a process may be scheduled late by this much.
SCHEDULING_SLACK = 1.5


def _seed(url: str) -> list[int]:
    """ROWS admin notices due now (each about another chat: each a different message)."""
    from sqlalchemy import Connection

    from bot.reminders import state
    from storage import reminders as outbox
    from storage import users as user_store
    from storage.open import open_database

    def seed(conn: Connection, now: dt.datetime) -> list[int]:
        ids: list[int] = []
        user_store.grant_roles(conn, ADMIN, {"admin"}, "test", now)
        for index in range(ROWS):
            ids += outbox.schedule(
                conn, None, state.ADMIN, f"unreachable:{FIRST_CHAT + index}:blocked",
                now, [outbox.user_recipient(ADMIN)],
            )  # fmt: skip
        return ids

    async def go() -> list[int]:
        now = dt.datetime.now(dt.UTC)
        db = await open_database(url)
        try:
            return await db.write(seed, now)
        finally:
            await db.close()

    return asyncio.run(go())


def start_pair(tg: FakeTelegram, tmp_path: Path, url: str) -> dict[Path, subprocess.Popen[bytes]]:
    """Two replicas started together (their start-ups overlap): folder -> process."""
    return {w: _replica(tg, w, url) for w in (tmp_path / "replica-a", tmp_path / "replica-b")}


def roles_of(
    replicas: dict[Path, subprocess.Popen[bytes]],
) -> tuple[Path, subprocess.Popen[bytes], Path, subprocess.Popen[bytes]]:
    """Once one leads and the other stands by, both started (a fault then finds them running,
    not half-way through their start-up): (leader's folder, its process, standby's…)."""
    roles = _wait_for_roles(list(replicas), timeout=30)
    _wait(lambda: all(_ready(w) for w in replicas), 30, "both replicas started")
    return roles["leader"], replicas[roles["leader"]], roles["standby"], replicas[roles["standby"]]


def stop_processes(processes: list[subprocess.Popen[bytes] | None]) -> None:
    """SIGTERM to every process (continued first, if stopped), then wait for each: their
    stops overlap. Within 30 s (systemd's TimeoutStopSec, README), or killed and failed."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
    for process in processes:
        if process is None:
            continue
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def _ready(workdir: Path) -> bool:
    """The replica has finished starting (bot/health.py `ready`, in its heartbeat file)."""
    try:
        return "ready_at" in json.loads((workdir / "lysyme-health.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False


def _notices(tg: FakeTelegram) -> list[int]:
    found = []
    for message in tg.sent_messages(ADMIN):
        match = re.search(r"\b(1\d{5})\b", message.get("text", ""))
        if match and "cannot be reached" in message.get("text", ""):
            found.append(int(match.group(1)))
    return found


def _wait(condition: object, timeout: float, what: str) -> None:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.02)


def stop_inside_write(
    tg: FakeTelegram, process: subprocess.Popen[bytes], url: str, target: int
) -> float:
    """Catch the leader inside a write transaction: hold the row the leader will mark next, so that its statement
    waits for it with the write lock held; stop the leader there; let the row go. The leader
    is then stopped idle in a transaction, holding the write lock, with no message in flight.
    When it was stopped (monotonic)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as watcher, \
            psycopg.connect(url, autocommit=True) as holder:  # fmt: skip
        _wait(
            lambda: watcher.execute(
                "SELECT claimed_by IS NOT NULL FROM reminders WHERE id = %s", (target,)
            ).fetchone()[0],  # type: ignore[index]
            30,
            "the leader claimed the row",
        )
        holder.execute("BEGIN")
        holder.execute("SELECT 1 FROM reminders WHERE id = %s FOR UPDATE", (target,))
        held = holder.execute("SELECT state FROM reminders WHERE id = %s", (target,)).fetchone()
        assert held is not None and held[0] == "claimed", held  # not reached yet
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
        backend = holder.info.backend_pid
        _wait(lambda: watcher.execute(waiting, (backend,)).fetchone()[0] > 0, 30,  # type: ignore[index]
              "the leader reached it")  # fmt: skip
        process.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        holder.execute("ROLLBACK")
    return stopped_at


def test_a_leader_stopped_inside_a_write_transaction_for_3_leases_sends_nothing_more(
    server: FakeTelegram, tmp_path: Path, postgres_target: str
) -> None:
    tg = server
    url = postgres_target
    ids = _seed(url)
    target = ids[95]  # a row near the end of the first claim batch (100 rows)
    replicas = start_pair(tg, tmp_path, url)
    leader, standby = replicas.values()  # (until their roles are known: both, to stop)
    try:
        leader_dir, leader, standby_dir, standby = roles_of(replicas)
        say(tg, ADMIN, f"/adduser {CLINICIAN} clinician", expect=str(CLINICIAN))

        stopped_at = stop_inside_write(tg, leader, url, target)
        before_stop = len(_notices(tg))  # stopped waiting on the row: nothing in flight
        assert 0 < before_stop < ROWS  # stopped mid-batch

        # The standby takes over within 4/3 of the lease, though the leader is frozen holding
        # the write lock: the server ends its transaction, the renewal does not wait for it.
        _wait(lambda: replica_role(standby_dir) == "leader", 4 / 3 * LEASE + SCHEDULING_SLACK * 2,
              "takeover")  # fmt: skip
        took = time.monotonic() - stopped_at
        assert took <= 4 / 3 * LEASE + SCHEDULING_SLACK, took
        # Writes work during the stop: an admin's command is answered by the new leader.
        say(tg, ADMIN, f"/adduser {CLINICIAN + 1} clinician", expect=str(CLINICIAN + 1))

        remaining = 3 * LEASE - (time.monotonic() - stopped_at)
        if remaining > 0:
            time.sleep(remaining)  # the stop lasts three leases (real processes: real time)
        leader.send_signal(signal.SIGCONT)

        _wait(lambda: len(set(_notices(tg))) == ROWS, 120, "every reminder sent")
        # The old leader had its batch in hand: give it time to (wrongly) go on with it.
        _wait(lambda: replica_role(leader_dir) == "standby", 10, "the old leader steps down")
        # Continued, it went on with the row in hand at once; a leader-only call is refused
        # from the moment it says standby, and it cannot lead again while the other renews.
        # One more lease, for a send it had already begun to show.
        time.sleep(LEASE)
    finally:
        stop_processes([leader, standby])

    print(f"takeover {took:.2f} s after the stop; {before_stop} sent before it")
    sent = _notices(tg)
    doubled = sorted({chat for chat in sent if sent.count(chat) > 1})
    assert doubled == [] and sorted(sent) == list(range(FIRST_CHAT, FIRST_CHAT + ROWS))
    for process in (leader, standby):
        stderr = process.stderr.read().decode() if process and process.stderr else ""
        assert "Traceback" not in stderr, stderr[-3000:]


def test_the_bots_postgresql_backends_terminated_mid_batch_lose_and_double_nothing(
    server: FakeTelegram, tmp_path: Path, postgres_target: str
) -> None:
    """`pg_terminate_backend` of every connection of both replicas, three times while the
    leader sends 150 reminders: each connection is opened again at its next transaction;
    every reminder reaches its chat once, and the replicas answer commands afterwards."""
    import secrets
    import urllib.parse

    import psycopg

    tg = server
    name = f"lysyme-e2e-{secrets.token_hex(4)}"  # only this test's replicas are terminated
    parts = urllib.parse.urlsplit(postgres_target)
    query = [*urllib.parse.parse_qsl(parts.query), ("application_name", name)]
    url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    _seed(url)
    replicas = start_pair(tg, tmp_path, url)
    leader, standby = replicas.values()
    admin = psycopg.connect(postgres_target, autocommit=True)
    terminate = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s"
    )
    try:
        roles_of(replicas)
        terminated = 0
        for share in (0.2, 0.4, 0.6):
            _wait(lambda share=share: len(_notices(tg)) >= share * ROWS, 60, f"{share:.0%} sent")  # type: ignore[misc]
            terminated += admin.execute(terminate, (name,)).fetchone()[0]  # type: ignore[index]
        assert terminated >= 6  # both replicas' writers, readers and lease connections
        _wait(lambda: len(set(_notices(tg))) == ROWS, 120, "every reminder sent")
        time.sleep(LEASE)  # anything sent twice would have gone out by now
        say(tg, ADMIN, f"/adduser {CLINICIAN} clinician", expect=str(CLINICIAN))
    finally:
        admin.close()
        stop_processes([leader, standby])
    sent = _notices(tg)
    doubled = sorted({chat for chat in sent if sent.count(chat) > 1})
    assert doubled == [] and sorted(sent) == list(range(FIRST_CHAT, FIRST_CHAT + ROWS))
    stderrs = [p.stderr.read().decode() if p and p.stderr else "" for p in (leader, standby)]
    assert leader.returncode == 0 and standby is not None and standby.returncode == 0, [
        e[-3000:] for e in stderrs
    ]
    for stderr in stderrs:
        assert "Traceback" not in stderr, stderr[-3000:]


class LoopbackProxy:
    """A TCP proxy on 127.0.0.1 in front of PostgreSQL, in a thread of its own: `drop()` stops
    every byte both ways (the connections stay open: a network that went silent, not a
    refused connection), `restore()` lets them through again."""

    @classmethod
    def in_front_of(cls, url: str) -> tuple[LoopbackProxy, str]:
        """A proxy in front of the server of `url`, and the same URL through the proxy."""
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        proxy = cls(parts.hostname or "127.0.0.1", parts.port or 5432)
        netloc = parts.netloc.replace(f":{parts.port}", f":{proxy.port}")
        return proxy, urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    def __init__(self, host: str, port: int) -> None:
        import threading

        self.target = (host, port)
        self.loop = asyncio.new_event_loop()
        self.flowing: asyncio.Event | None = None
        self.port = 0
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)

            async def start() -> None:
                self.flowing = asyncio.Event()
                self.flowing.set()
                server = await asyncio.start_server(self._client, "127.0.0.1", 0)
                self.port = server.sockets[0].getsockname()[1]
                ready.set()

            self.loop.run_until_complete(start())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="pg-proxy", daemon=True)
        self.thread.start()
        ready.wait(10)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            assert self.flowing is not None
            try:
                while data := await source.read(65536):
                    await self.flowing.wait()
                    sink.write(data)
                    await sink.drain()
            except OSError:
                return  # either side closed: the finally closes the other
            finally:
                sink.close()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))

    def drop(self) -> None:
        assert self.flowing is not None
        self.loop.call_soon_threadsafe(self.flowing.clear)

    def restore(self) -> None:
        assert self.flowing is not None
        self.loop.call_soon_threadsafe(self.flowing.set)

    def close(self) -> None:
        self.restore()

        async def end() -> None:  # the pumps ended first: none left half-run at the stop
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(end(), self.loop)
        self.thread.join(5)


#: Seconds without a byte between the leader and PostgreSQL: three leases (the stop of the
#: SIGSTOP test: the old leader's lease ran out, was taken over and renewed several times by the
#: new leader) plus the longest timeout that acts on the cut-off connections: the lease
#: connection's keepalives (1 s idle + 2 probes 1 s apart: 3 s), the writers' lock wait (3 s),
#: the server's end of a transaction left idle (2 s).
DROP = 3 * LEASE + 3.0


def test_a_tcp_drop_between_the_leader_and_postgresql_mid_batch(
    server: FakeTelegram, tmp_path: Path, postgres_target: str
) -> None:
    """The leader's network to PostgreSQL goes silent for DROP (12 s) mid-batch (the standby's does
    not): the leader stops sending as soon as its lease is no longer known live (health:
    standby), the standby takes over within 4/3 of the lease, and when the network comes back
    nothing is sent twice and nothing is lost."""

    tg = server
    proxy, through = LoopbackProxy.in_front_of(postgres_target)
    _seed(postgres_target)
    leader_dir, standby_dir = tmp_path / "replica-a", tmp_path / "replica-b"
    leader = _replica(tg, leader_dir, through)
    standby: subprocess.Popen[bytes] | None = None
    try:
        _wait_forreplica_role(leader_dir, "leader", timeout=30)
        standby = _replica(tg, standby_dir, postgres_target)
        _wait_forreplica_role(standby_dir, "standby", timeout=30)
        _wait(lambda: len(_notices(tg)) >= ROWS // 4, 60, "a quarter sent")
        proxy.drop()
        dropped_at = time.monotonic()
        before_drop = len(_notices(tg))
        _wait(lambda: replica_role(leader_dir) == "standby", LEASE + SCHEDULING_SLACK,
              "the cut-off leader says standby")  # fmt: skip
        _wait(lambda: replica_role(standby_dir) == "leader", 4 / 3 * LEASE + SCHEDULING_SLACK * 2,
              "takeover")  # fmt: skip
        took = time.monotonic() - dropped_at
        assert took <= 4 / 3 * LEASE + SCHEDULING_SLACK, took
        say(tg, ADMIN, f"/adduser {CLINICIAN} clinician", expect=str(CLINICIAN))
        time.sleep(max(0.0, DROP - (time.monotonic() - dropped_at)))
        proxy.restore()
        _wait(lambda: len(set(_notices(tg))) == ROWS, 120, "every reminder sent")
        # The old leader's statements, held in the network, get their answers at once; its
        # row in hand is refused (its lease is not live). One more lease for a late send.
        time.sleep(LEASE)
    except BaseException:
        proxy.restore()  # (a failure mid-drop: the replicas stop on a live network)
        stop_processes([leader, standby])
        for name, process in (("leader", leader), ("standby", standby)):  # why, for the log
            if process is not None and process.stderr is not None:
                print(f"--- {name}'s stderr:\n{process.stderr.read().decode()[-4000:]}")
        raise
    finally:
        proxy.restore()
        stop_processes([leader, standby])
        proxy.close()  # (after: the leader's connections go through it)
    sent = _notices(tg)
    doubled = sorted({chat for chat in sent if sent.count(chat) > 1})
    # Nothing lost. At most the one message in flight is repeated: the network went silent
    # between Telegram's answer and the commit recording it (docs/RELIABILITY.md, the window
    # a kill -9 there opens too); whatever the old leader had in hand after it, it did not send.
    assert set(sent) == set(range(FIRST_CHAT, FIRST_CHAT + ROWS))
    assert len(doubled) <= 1 and len(sent) - ROWS == len(doubled), doubled
    assert 0 < before_drop < ROWS  # the drop came mid-batch


def test_a_replica_stopped_while_postgresql_is_silent_ends_within_its_deadline(
    server: FakeTelegram, tmp_path: Path, postgres_target: str
) -> None:
    """SIGTERM to the leader while its network to PostgreSQL is silent mid-batch (statements
    in flight wait on it for minutes): the stop ends within the sender's grace plus one lease
    (bot/app.py), with exit status 0 and no traceback (systemd's TimeoutStopSec=30 is not
    reached); the log says the connections were cut."""

    from bot.reminders import sender

    tg = server
    proxy, through = LoopbackProxy.in_front_of(postgres_target)
    _seed(postgres_target)
    workdir = tmp_path / "replica"
    replica = _replica(tg, workdir, through)
    try:
        _wait_forreplica_role(workdir, "leader", timeout=30)
        _wait(lambda: len(_notices(tg)) >= ROWS // 4, 60, "a quarter sent")
        proxy.drop()
        replica.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        deadline = sender.STOP_GRACE + LEASE
        replica.wait(timeout=deadline + 10)
        took = time.monotonic() - stopping
    finally:
        if replica.poll() is None:
            replica.kill()
        proxy.close()
    stderr = replica.stderr.read().decode() if replica.stderr else ""
    print(f"\nstopped {took:.1f} s after SIGTERM")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert replica.returncode == 0, stderr[-3000:]
    assert took <= deadline + SCHEDULING_SLACK * 2, took
    assert "connections are cut" in stderr
