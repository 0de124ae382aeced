"""Several replicas on one PostgreSQL database (issue 16): two `Database` objects opened on the
same schema are two replicas. Whatever both do at the same moment, nothing is done twice and
nothing is lost: an update id is claimed once, due reminders are claimed by one replica each
(and a dead replica's claims taken over after its lease, a live one's never), the audit chain
stays one total order, one screening's answers are applied one after the other, a named lease
has one holder at a time, and replicas starting together migrate the schema once.

PostgreSQL only: SQLite is one process per database file (storage/lock.py). Time is a
parameter (`now`): nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import sqlalchemy
from sqlalchemy import Connection

from storage import leases
from storage import reminders as outbox
from storage import screenings as store
from storage.audit import AuditEntry, append_audit, verify_chain
from storage.db import SCHEMA_VERSION, Database
from storage.open import open_database
from storage.sql import execute, fetch_all, value
from storage.timefmt import to_db
from tests.conftest import T0
from tests.storage.support import Pause

LEADER_LEASE = "leader"  # bot/telegram/leadership.py's lease; any name behaves alike here

CLINICIAN = 2002
LEASE = dt.timedelta(seconds=30)


async def name_of(replica: Database) -> str:
    """The name this replica's claims carry."""

    def whoami(conn: Connection) -> str:
        return outbox.this_process()

    return await replica.write(whoami)


async def schedule_due(replica: Database, count: int) -> list[int]:
    """`count` reminders, all due at T0 (one screening-less row each)."""

    def add(conn: Connection) -> list[int]:
        ids: list[int] = []
        for index in range(count):
            ids += outbox.schedule(conn, None, "test", f"step-{index}", T0, ["team"])
        return ids

    return await replica.write(add)


# --- update ids -------------------------------------------------------------------------------


async def test_an_update_id_is_claimed_by_one_replica_only(
    replicas: tuple[Database, Database],
) -> None:
    first, second = replicas
    for update_id in range(1, 21):  # both at the same moment, twenty times
        claims = await asyncio.gather(
            first.write(store.claim_update, update_id, T0),
            second.write(store.claim_update, update_id, T0),
        )
        assert sorted(claims) == [False, True], (update_id, claims)

    # The other replica asks while the first one's transaction is still open: it waits for
    # it, then sees its claim.
    pause = Pause()

    def claim_two(conn: Connection) -> tuple[bool, bool]:
        claimed = store.claim_update(conn, 99, T0)
        pause.here()  # (the other starts meanwhile)
        return claimed, store.claim_update(conn, 100, T0)

    holding = asyncio.create_task(first.write(claim_two))
    try:
        await pause.wait()
        racing = asyncio.create_task(second.write(store.claim_update, 99, T0))
        for _ in range(20):  # let it start and reach the database
            await asyncio.sleep(0)
    finally:
        pause.go()
    assert await holding == (True, True)
    assert await racing is False
    assert await first.read(value, "SELECT count(*) FROM processed_updates") == 22


# --- reminders ------------------------------------------------------------------------------


async def test_due_reminders_are_claimed_by_one_replica_each(
    replicas: tuple[Database, Database],
) -> None:
    first, second = replicas
    names = {await name_of(first): first, await name_of(second): second}
    assert len(names) == 2
    due = set(await schedule_due(first, 30))

    claimed: dict[str, set[int]] = {name: set() for name in names}
    for _ in range(4):  # rounds of both replicas sweeping at once, a few rows per claim
        rounds = await asyncio.gather(
            *(replica.write(outbox.claim_due, T0, 5) for replica in (first, second)),
            *(replica.write(outbox.claim_due, T0, 3) for replica in (second, first)),
        )
        for replica, rows in zip((first, second, second, first), rounds, strict=True):
            name = next(n for n, r in names.items() if r is replica)
            ids = {row.id for row in rows}
            assert not ids & set().union(*claimed.values()), "a row claimed twice"
            claimed[name] |= ids
    assert set().union(*claimed.values()) == due  # nothing left behind
    assert all(claimed.values())  # both replicas worked
    rows = await first.read(fetch_all, "SELECT id, state, claimed_by FROM reminders")
    assert {(r["id"], r["state"], r["claimed_by"]) for r in rows} == {
        (row_id, "claimed", name) for name, ids in claimed.items() for row_id in ids
    }


async def test_skip_locked_keeps_concurrent_claims_apart_without_the_write_lock(
    postgres_target: str,
) -> None:
    """The reminder claim is correct on its own (FOR UPDATE SKIP LOCKED), not only because
    every write transaction also holds the write lock: two transactions that do not take it
    claim at the same time, the second passing over the rows the first has locked."""
    db = await open_database(postgres_target)
    due = set(await schedule_due(db, 12))
    await db.close()
    # Two connections of the test's own, outside `Database` (no write lock taken).
    url = sqlalchemy.make_url(postgres_target).set(drivername="postgresql+psycopg")
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as first, engine.connect() as second:
            execute(second, "SET lock_timeout = '5s'")  # waiting for the first: a failure
            mine = {row.id for row in outbox.claim_due(first, T0, 5)}  # locked, uncommitted
            theirs = {row.id for row in outbox.claim_due(second, T0, 100)}  # does not wait
            first.commit()
            second.commit()
        assert len(mine) == 5 and not mine & theirs and mine | theirs == due
    finally:
        engine.dispose()


async def test_a_dead_replicas_claims_are_taken_over_after_their_lease_a_live_ones_never(
    replicas: tuple[Database, Database],
) -> None:
    first, second = replicas
    dead, live, free = await schedule_due(first, 3)

    def claimed_by(conn: Connection, row_id: int, name: str, until: dt.datetime) -> None:
        execute(
            conn,
            "UPDATE reminders SET state='claimed', claimed_at=:claimed_at, claimed_by=:name, "
            "claimed_until=:until WHERE id=:id",
            {"claimed_at": to_db(T0), "name": name, "until": to_db(until), "id": row_id},
        )

    now = T0 + dt.timedelta(minutes=1)
    await first.write(claimed_by, dead, "gone-host:7:dead", now - dt.timedelta(seconds=1))
    await first.write(claimed_by, live, "other-host:8:live", now + dt.timedelta(minutes=4))

    taken = await second.write(outbox.claim_due, now)
    assert {row.id for row in taken} == {dead, free}  # the live claim is left alone
    # A replica that stops releases its own claims only, never another live replica's.
    assert await second.write(outbox.release_claimed) == 2
    assert await first.write(outbox.release_claimed) == 0
    rows = {r["id"]: r for r in await first.read(fetch_all, "SELECT * FROM reminders")}
    assert rows[live]["state"] == "claimed" and rows[live]["claimed_by"] == "other-host:8:live"
    assert rows[dead]["state"] == rows[free]["state"] == "scheduled"

    # Once the live replica's lease has run out (it died after all), its row is taken over.
    later = now + dt.timedelta(minutes=4, seconds=1)
    taken = await first.write(outbox.claim_due, later)
    assert {row.id for row in taken} == {dead, live, free}
    rows = {r["id"]: r for r in await first.read(fetch_all, "SELECT * FROM reminders")}
    assert {r["claimed_by"] for r in rows.values()} == {await name_of(first)}
    assert {r["claimed_until"] for r in rows.values()} == {to_db(later + outbox.CLAIM_LEASE)}


# --- the audit chain ------------------------------------------------------------------------


async def test_audit_rows_appended_by_both_replicas_form_one_intact_chain(
    replicas: tuple[Database, Database],
) -> None:
    first, second = replicas

    def entry(replica: str, n: int) -> AuditEntry:
        return AuditEntry(T0, replica, "answer", "HMN-001", f"q{n}", None, str(n))

    await asyncio.gather(
        *(first.write(append_audit, entry("first", n)) for n in range(25)),
        *(second.write(append_audit, entry("second", n)) for n in range(25)),
    )
    result = await first.read(verify_chain)
    assert (result.ok, result.rows_checked) == (True, 50), result.problem
    rows = await second.read(fetch_all, "SELECT id, actor, field FROM audit ORDER BY id")
    assert [r["id"] for r in rows] == list(range(1, 51))
    assert {(r["actor"], r["field"]) for r in rows} == {
        (replica, f"q{n}") for replica in ("first", "second") for n in range(25)
    }


# --- one screening's answers ----------------------------------------------------------------


async def test_one_screenings_answers_from_both_replicas_are_applied_one_after_the_other(
    replicas: tuple[Database, Database],
) -> None:
    """Each answer reads the screening, then writes the next answer and moves its cursor (what
    a flow does). Applied at the same moment by both replicas, none reads a state another has
    already changed: no answer is lost, none is given for the same question twice."""
    first, second = replicas

    def open_screening(conn: Connection) -> int:
        s = store.create_screening(conn, site="HMN", clinician_id=CLINICIAN,
                                         chat_id=CLINICIAN, now=T0, first_question="q0")  # fmt: skip
        return s.id

    screening_id = await first.write(open_screening)

    def answer_next(conn: Connection, replica: str) -> None:
        found = store.get_with_answers(conn, screening_id)
        assert found is not None
        screening, answers = found
        question = screening.cursor or "q?"
        assert question not in answers  # the state read is the latest one
        store.add_answer(conn, screening_id, question, json.dumps(replica), by=CLINICIAN,
                               now=T0, source="screening")  # fmt: skip
        store.update_screening(conn, screening_id, T0, cursor=f"q{len(answers) + 1}")

    await asyncio.gather(
        *(first.write(answer_next, "first") for _ in range(15)),
        *(second.write(answer_next, "second") for _ in range(15)),
    )

    def look(
        conn: Connection,
    ) -> tuple[store.Screening | None, dict[str, str], list[store.AnswerRow]]:
        return (
            store.get_by_id(conn, screening_id),
            store.current_answers(conn, screening_id),
            store.answer_history(conn, screening_id),
        )

    screening, answers, history = await second.read(look)
    assert screening is not None and screening.cursor == "q30"
    assert sorted(answers) == sorted(f"q{n}" for n in range(30))
    assert len(history) == 30  # one row per question: nothing overwritten, nothing doubled
    assert sorted(json.loads(v) for v in answers.values()) == ["first"] * 15 + ["second"] * 15


# --- named leases ---------------------------------------------------------------------------


async def test_a_lease_has_one_holder_at_a_time_and_is_taken_over_once_expired(
    replicas: tuple[Database, Database],
) -> None:
    first, second = replicas

    async def acquire(replica: Database, holder: str, now: dt.datetime) -> bool:
        return await replica.write(leases.acquire, LEADER_LEASE, now, LEASE, holder)

    async def holder() -> leases.Lease | None:
        return await first.read(leases.current_holder, LEADER_LEASE)

    # Both ask for the free lease at the same moment: one gets it.
    won = await asyncio.gather(acquire(first, "a", T0), acquire(second, "b", T0))
    assert sorted(won) == [False, True]
    winner, loser = ("a", "b") if won[0] else ("b", "a")
    replica_of = {"a": first, "b": second}
    current = await holder()
    assert current is not None and current.holder == winner and current.live(T0)

    # Refused to the other while live; renewed by its holder (acquired_at kept).
    assert not await acquire(replica_of[loser], loser, T0 + dt.timedelta(seconds=29))
    assert await acquire(replica_of[winner], winner, T0 + dt.timedelta(seconds=20))
    assert not await acquire(replica_of[loser], loser, T0 + dt.timedelta(seconds=49))
    renewed = await holder()
    assert renewed is not None and renewed.acquired_at == T0
    assert renewed.expires_at == T0 + dt.timedelta(seconds=50)

    # Its holder died: once expired, the other takes it over.
    after = T0 + dt.timedelta(seconds=50)
    assert await acquire(replica_of[loser], loser, after)
    assert not await acquire(replica_of[winner], winner, after + dt.timedelta(seconds=1))
    taken = await holder()
    assert taken is not None and taken.holder == loser and taken.acquired_at == after
    # The epoch (fencing token) moved on at the takeover, not at the renewals.
    assert (current.epoch, renewed.epoch, taken.epoch) == (1, 1, 2)

    # Released (a clean stop): the other may take it at once; only the holder releases.
    assert not await replica_of[winner].write(leases.release, LEADER_LEASE, winner)
    assert await replica_of[loser].write(leases.release, LEADER_LEASE, loser)
    released = await holder()
    assert released is not None and not released.live(after + dt.timedelta(seconds=2))
    assert await acquire(replica_of[winner], winner, after + dt.timedelta(seconds=2))
    back = await holder()  # the count never goes back, even after a release
    assert back is not None and back.holder == winner and back.epoch == 3


# --- migrations -----------------------------------------------------------------------------


async def test_replicas_starting_together_migrate_the_schema_once(postgres_target: str) -> None:
    opened = await asyncio.gather(*(open_database(postgres_target) for _ in range(3)))
    try:
        for replica in opened:
            assert await replica.schema_version() == SCHEMA_VERSION
            assert await replica.migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
        rows = await opened[0].read(
            fetch_all, "SELECT version FROM schema_version ORDER BY version"
        )
        assert [r["version"] for r in rows] == list(range(1, SCHEMA_VERSION + 1))  # applied once
        ids = await opened[0].read(fetch_all, "SELECT value FROM meta WHERE key='database_id'")
        assert len(ids) == 1  # one database id, whichever replica wrote it
        # Every replica works on the migrated schema.
        for update_id, replica in enumerate(opened):
            assert await replica.write(store.claim_update, update_id, T0)
    finally:
        for replica in opened:
            await replica.close()
