"""Reminder sweep benchmark: the cost of one `bot.reminders.sender.sweep` on a large outbox.

A temporary SQLite file with the production pragmas (WAL, synchronous=FULL) holds 100,000
screenings and 1,000,000 reminder rows with a realistic spread: most already sent, cancelled
or skipped (due over the past two years), some scheduled over the next 30 days, and a few
hundred falling due during the benchmark (each for its own eligible screening, to the team
chat or to the clinician). The clock is injected: each of the ~50 sweeps advances it by 2 s
(the sender's period), so every sweep claims, re-checks, "sends" (a no-op `send`) and marks
the handful of rows that just fell due — the steady state of a busy trial. Also measured: the
due-reminder claim query on its own, and a sweep with nothing due.

    python benchmarks/sweep.py           # 100,000 screenings, 1,000,000 reminders
    python benchmarks/sweep.py --quick   # 10,000 / 100,000, < 30 s

The last line of stdout is one JSON object; `sweep_ms` is the median sweep (target ≤ 20 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first, not the root
    sys.path.insert(0, str(ROOT))

from bot.common import Button, Context  # noqa: E402
from bot.reminders import state, sweep  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from storage import reminders as outbox  # noqa: E402
from storage.open import open_database  # noqa: E402
from storage.sql import fetch_all  # noqa: E402
from storage.timefmt import to_db  # noqa: E402

CLINICIAN = 500_000
TEAM = -100_123
START = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
PERIOD = dt.timedelta(seconds=2)


def _screenings(count: int, due: int) -> Iterator[tuple[object, ...]]:
    """Old screenings closed long ago; the last `due` ones eligible, screened, in their window."""
    rng = random.Random(1)
    stamp = to_db(START - dt.timedelta(days=1))
    for sequence in range(1, count + 1):
        open_one = sequence > count - due
        if open_one:
            status, outcome = "screened", "eligible"
            admission = (START.date() - dt.timedelta(days=1)).isoformat()
            deadline = to_db(dt.datetime(2026, 11, 23, 22, 59, 59, tzinfo=dt.UTC))
        else:
            status = rng.choice(("injected", "withdrawn", "window_missed", "abandoned", "screened"))
            outcome = "not_eligible" if status == "screened" else "eligible"
            admission, deadline = "2025-01-01", to_db(dt.datetime(2025, 1, 4, tzinfo=dt.UTC))
        yield (f"HMN-{sequence:03d}", "HMN", sequence, CLINICIAN, CLINICIAN, CLINICIAN, status,
               outcome, "", "done", admission, deadline, 140_000_000, stamp, stamp, stamp, stamp)  # fmt: skip


def _reminders(
    screenings: int, total: int, due: int, window: dt.timedelta
) -> Iterator[tuple[object, ...]]:
    rng = random.Random(2)
    past_span = int(dt.timedelta(days=730).total_seconds())
    future_span = int(dt.timedelta(days=30).total_seconds())
    kinds = ("d0_window", "pending", "follow_up", "outcome_change", "consent_patient")
    recipients = ("team", f"user:{CLINICIAN}", "last_actor")
    bulk = total - due
    for _ in range(bulk):
        roll = rng.random()
        screening = rng.randint(1, screenings - due)
        if roll < 0.04:  # still to come: the partial index holds these
            due_at = START + window + dt.timedelta(seconds=rng.randint(60, future_span))
            state, sent = "scheduled", None
        else:
            due_at = START - dt.timedelta(seconds=rng.randint(60, past_span))
            state = "sent" if roll < 0.74 else "cancelled" if roll < 0.94 else "skipped"
            sent = to_db(due_at) if state == "sent" else None
        yield (screening, rng.choice(kinds), "day_1", rng.choice(recipients), to_db(due_at),
               state, 1 if sent else 0, sent)  # fmt: skip
    for index in range(due):  # falling due during the benchmark, one screening each
        at = START + dt.timedelta(seconds=window.total_seconds() * (index + 0.5) / due)
        recipient = "team" if index % 2 else f"user:{CLINICIAN}"
        yield (screenings - due + 1 + index, "d0_window", "day_1", recipient, to_db(at),
               "scheduled", 0, None)  # fmt: skip


async def build(path: Path, screenings: int, reminders: int, due: int, sweeps: int) -> float:
    started = time.perf_counter()
    db = await open_database(path)  # the schema, by the real migrations
    await db.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.execute(
            "INSERT INTO users(telegram_id, roles, added_by, added_at) VALUES (?,?,?,?)",
            (CLINICIAN, "clinician", "bench", to_db(START)),
        )
        conn.executemany(
            """INSERT INTO screenings(number, site, sequence, clinician_id, last_actor_id,
                   chat_id, status, outcome, reasons, stage, admission_date, d0_deadline,
                   dose_cells, created_at, updated_at, closed_at, last_activity_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            _screenings(screenings, due),
        )
        conn.executemany(
            """INSERT INTO reminders(screening_id, kind, step, recipient, due_at, state,
                   attempts, sent_at) VALUES (?,?,?,?,?,?,?,?)""",
            _reminders(screenings, reminders, due, PERIOD * sweeps),
        )
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


class _RolledBack(Exception):
    """Ends a measured transaction without committing it."""


async def measure(path: Path, sweeps: int) -> dict[str, object]:
    db = await open_database(path)
    settings = load_settings(LYSYME_DATABASE=str(path), LYSYME_TEAM_CHAT_ID=TEAM,
                             LYSYME_TIMEZONE="Europe/Paris", LYSYME_LANGUAGE="fr")  # fmt: skip
    clock = [START]
    ctx = Context(settings=settings, db=db, clock=lambda: clock[0])
    delivered = 0

    async def send(chat_id: int, text: str, buttons: list[list[Button]]) -> None:
        nonlocal delivered
        delivered += 1

    # The claim query alone (rolled back: nothing changes), on the cold-ish database, through
    # the storage API's own write transaction.
    def claim_then_roll_back(conn: Connection) -> None:
        outbox.claim_due(conn, START + PERIOD * sweeps, state.CLAIM_LIMIT)
        raise _RolledBack

    claim_times = []
    for _ in range(20):
        t0 = time.perf_counter()
        with contextlib.suppress(_RolledBack):
            await db.write(claim_then_roll_back)
        claim_times.append((time.perf_counter() - t0) * 1000)
    steps = await db.read(
        fetch_all,
        "EXPLAIN QUERY PLAN SELECT * FROM reminders WHERE state IN ('scheduled', 'claimed') "
        "AND state='scheduled' AND due_at <= :now AND (next_attempt_at IS NULL OR "
        "next_attempt_at <= :now) ORDER BY due_at, id LIMIT 100",
        {"now": to_db(START)},
    )
    plan = " ".join(str(step["detail"]) for step in steps)

    idle_times = []
    for _ in range(10):  # nothing due yet: the steady-state cost every 2 s
        t0 = time.perf_counter()
        await sweep.sweep(ctx, START - dt.timedelta(minutes=1), send)
        idle_times.append((time.perf_counter() - t0) * 1000)

    times, cpu, rows = [], [], []
    for index in range(1, sweeps + 1):
        clock[0] = START + PERIOD * index
        t0, c0 = time.perf_counter(), time.process_time()
        result = await sweep.sweep(ctx, clock[0], send)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)  # all threads: the loop and storage's
        rows.append(result.sent)
    await db.close()
    times_sorted = sorted(times)
    return {
        "sweep_ms": round(statistics.median(times), 2),
        "sweep_p95_ms": round(times_sorted[int(0.95 * (len(times) - 1))], 2),
        "sweep_max_ms": round(max(times), 2),
        "slowest_sweep": times.index(max(times)) + 1,
        # CPU time of the process during a sweep: what the sweep costs when the machine is
        # shared (wall time then also counts waiting for a core).
        "sweep_cpu_ms": round(statistics.median(cpu), 2),
        "sent_per_sweep": round(statistics.mean(rows), 1),
        "sent_total": delivered,
        "idle_sweep_ms": round(statistics.median(idle_times), 2),
        "claim_query_ms": round(statistics.median(claim_times), 3),
        "claim_plan": plan,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 screenings, < 30 s")
    parser.add_argument("--sweeps", type=int, default=50)
    args = parser.parse_args()
    screenings, reminders = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    due = 300
    with tempfile.TemporaryDirectory(prefix="lysyme-sweep-") as folder:
        path = Path(folder) / "bench.sqlite3"
        build_s = asyncio.run(build(path, screenings, reminders, due, args.sweeps))
        print(f"built {screenings:,} screenings, {reminders:,} reminders in {build_s:.1f} s",
              file=sys.stderr)  # fmt: skip
        figures = asyncio.run(measure(path, args.sweeps))
        size_mb = path.stat().st_size / 1e6
    result = {
        "benchmark": "sweep",
        "quick": args.quick,
        "screenings": screenings,
        "reminders": reminders,
        "due_during_run": due,
        "sweeps": args.sweeps,
        "sweep_period_s": PERIOD.total_seconds(),
        **figures,
        "target_ms": 20,
        "db_mb": round(size_mb, 1),
        "build_s": round(build_s, 1),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
