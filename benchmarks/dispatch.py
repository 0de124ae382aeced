"""Dispatch benchmark: how many screening answers per second the real bot handles.

The real `Application` (`bot.app.build_application`), real handlers, real SQLite storage in a
temporary file with the production pragmas (WAL, synchronous=FULL), and python-telegram-bot's
request layer replaced by an in-process fake that answers every Bot API call at once (no
sockets). N simulated clinicians (N = 1, 10, 100) each run a full screening — /screen, every
question (buttons tapped from the bot's own keyboards, typed answers as messages), the summary
confirmation and the four SCORTEN values — closed loop: a clinician sends the next update only
after the bot has answered the previous one; the clinicians' updates are interleaved
round-robin through `application.process_update`.

Latency of one update: from the moment it enters the Application (`process_update`) to the
bot's last Bot API call for it. "Answers" are every update of the screening (29 per
clinician: the command, 27 answers and the confirmation).

In the same run, with the same fake request layer, two floors:
* framework: a handler that only replies;
* durable: a handler that writes one row in one transaction through aiosqlite with the same
  pragmas (BEGIN IMMEDIATE; INSERT; COMMIT), then replies.
`overhead_ratio` = durable floor ÷ answers per second (at N = 100).

    python benchmarks/dispatch.py            # 3 rounds per N, the median round is reported
    python benchmarks/dispatch.py --quick    # 1 round per N, < 30 s
    python benchmarks/dispatch.py --profile  # cProfile of one N = 100 round, top functions
    python benchmarks/dispatch.py --postgresql postgresql://postgres@127.0.0.1:5432/postgres
        # the same rounds on PostgreSQL too (each in a fresh schema), reported beside SQLite's
        # under "postgresql"; `--postgresql start` runs a throw-away cluster
        # (scripts/throwaway-postgres) for the run

The last line of stdout is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import io
import logging
import pstats
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import Connection
from support.common import (
    BOT_USER,
    FIRST_CLINICIAN,
    InstantRequest,
    SimClinician,
    emit,
    machine,
    peak_rss_mb,
    percentile,
    screening_script,
)
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import build_application
from bot.settings import Settings
from storage import users as user_store
from storage.audit import verify_chain
from storage.db import Database
from storage.sql import fetch_all, value

TOKEN = "123456:BENCH"

#: Hops to the database: every call handed to one of storage's threads and awaited back
#: (`Database._on_thread`: a write, a read, a lease renewal, a deferred write flushed on its
#: own, the anchor moved by its timer). Counted for `db_hops_per_answer`. Every `defer` (the
#: shown-prompt mark: on SQLite it usually rides in the next write, no hop) is counted in
#: DEFERRED (`deferred_per_answer`).
HOPS = [0]
DEFERRED = [0]
_on_thread = Database._on_thread


async def _counted_hop(self: Database, *args: Any) -> Any:
    HOPS[0] += 1
    return await _on_thread(self, *args)


def _count_defers(backend: type[Database]) -> None:
    defer = backend.defer

    async def counted(self: Database, fn: Any, /, *args: Any, **kwargs: Any) -> None:
        DEFERRED[0] += 1
        await defer(self, fn, *args, **kwargs)

    backend.defer = counted  # type: ignore[method-assign]


Database._on_thread = _counted_hop  # type: ignore[method-assign]
with contextlib.suppress(ImportError):  # PostgresDatabase (its driver installed): counted too
    from storage.postgres_db import PostgresDatabase

    _count_defers(PostgresDatabase)
from storage.db import SqliteDatabase  # noqa: E402

_count_defers(SqliteDatabase)


def bench_settings(database: Path | str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        TELEGRAM_BOT_TOKEN=TOKEN,
        LYSYME_DATABASE=str(database),
        LYSYME_LANGUAGE="en",
        LYSYME_TEAM_CHAT_ID="-100500",
    )


def fresh_schema(server: str) -> str:
    """A new, empty schema on the PostgreSQL server, as a database URL."""
    import psycopg

    schema = f"bench_{time.monotonic_ns()}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options=-csearch_path%3D{schema}"


async def screening_round(
    clinicians: int, workdir: Path, profile: bool = False, postgresql: str | None = None
) -> dict[str, Any]:
    """N clinicians, each one full screening; returns the figures of this round. On SQLite
    (a new file), or on PostgreSQL (a new schema on the `postgresql` server)."""
    request = InstantRequest()
    database: Path | str = (
        fresh_schema(postgresql)
        if postgresql
        else workdir / f"dispatch-{clinicians}-{time.monotonic_ns()}.sqlite3"
    )
    # Unpaced: this measures the bot's own cost; Telegram's 30 messages/s overall (the rate
    # limiter of bot/reminders/delivery.py) would cap every figure here at ~11 answers/s.
    app = build_application(
        bench_settings(database), request=request, get_updates_request=InstantRequest(),
        paced=False,
    )  # fmt: skip
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    ctx = app.bot_data["ctx"]
    now = dt.datetime.now(dt.UTC)
    ids = [FIRST_CLINICIAN + i for i in range(clinicians)]

    def grant(conn: Connection) -> None:
        for user_id in ids:
            user_store.grant_roles(conn, user_id, {"clinician"}, "bench", now)

    await ctx.db.write(grant)
    today = dt.datetime.now(ctx.zone).date()
    sims = [SimClinician(user_id, screening_script(today)) for user_id in ids]
    update_ids = iter(range(1, 10**9))
    latencies: list[float] = []
    profiler = cProfile.Profile() if profile else None
    hops_before, deferred_before, cpu_before = HOPS[0], DEFERRED[0], time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    while not all(s.done for s in sims):
        for sim in sims:
            if sim.done:
                continue
            update = Update.de_json(sim.next_update(next(update_ids), request.prompts), app.bot)
            entered = time.perf_counter()
            await app.process_update(update)
            finished = time.perf_counter()
            last_call = request.last_call_at if request.last_call_at >= entered else finished
            latencies.append(last_call - entered)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    hops, cpu = HOPS[0] - hops_before, time.process_time() - cpu_before
    deferred = DEFERRED[0] - deferred_before
    await check_outcome(ctx, clinicians, request)
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    await app.shutdown()
    figures = {
        "clinicians": clinicians,
        "answers": len(latencies),
        "answers_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "max_ms": round(max(latencies) * 1000, 3),
        "db_hops_per_answer": round(hops / len(latencies), 2),
        "deferred_per_answer": round(deferred / len(latencies), 2),
        "cpu_ms_per_answer": round(cpu / len(latencies) * 1000, 3),
        "bot_api_calls_per_answer": round(request.calls_during(started) / len(latencies), 2),
    }
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        out.write("\n--- by own time ---\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
        figures["profile"] = out.getvalue()
    return figures


async def check_outcome(ctx: Any, clinicians: int, request: InstantRequest) -> None:
    """The benchmark measures the real thing: every screening closed eligible, every answer
    stored, the audit chain intact."""

    def look(conn: Connection) -> tuple[list[tuple[Any, ...]], int, Any]:
        rows = fetch_all(
            conn,
            "SELECT status, outcome, stage, COUNT(*) AS n FROM screenings"
            " GROUP BY status, outcome, stage",
        )
        return (
            [(r["status"], r["outcome"], r["stage"], r["n"]) for r in rows],
            int(value(conn, "SELECT COUNT(*) FROM answers")),
            verify_chain(conn),
        )

    rows, answers, result = await ctx.db.read(look)
    assert rows == [("screened", "eligible", "done", clinicians)], rows
    assert answers == clinicians * 27, answers
    assert result.ok, result.problem
    for user_id in range(FIRST_CLINICIAN, FIRST_CLINICIAN + clinicians):
        assert "SCORTEN" in request.last_text.get(user_id, ""), request.last_text.get(user_id)


FLOORS = ("framework", "durable", "framework_answer")


async def floor_round(kind: str, updates: int, users: int, workdir: Path) -> float:
    """Updates per second of a bare Application (same fake request layer) whose one handler:

    * framework: only replies (one sendMessage) to a text message;
    * durable: writes one row in one transaction through aiosqlite with the production
      pragmas (BEGIN IMMEDIATE; INSERT; COMMIT), then replies;
    * framework_answer: makes the Bot API calls of a tapped answer and nothing else — answers
      the callback query, edits the tapped message, sends the next question with its keyboard
      (what python-telegram-bot alone costs per answer: no database, no flow).
    """
    request = InstantRequest()
    conn: aiosqlite.Connection | None = None
    if kind == "durable":
        conn = await aiosqlite.connect(workdir / f"floor-{time.monotonic_ns()}.sqlite3",
                                       isolation_level=None)  # fmt: skip
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       "busy_timeout=5000"):  # fmt: skip
            await conn.execute(f"PRAGMA {pragma}")
        await conn.execute(
            "CREATE TABLE rows(id INTEGER PRIMARY KEY, user_id INTEGER, text TEXT, at TEXT)"
        )

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        if conn is not None:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute(
                "INSERT INTO rows(user_id, text, at) VALUES (?, ?, ?)",
                (update.effective_chat.id, update.effective_message.text, time.time()),
            )
            await conn.execute("COMMIT")
        await context.bot.send_message(update.effective_chat.id, "ok")

    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Yes", callback_data="a:1:hiv_positive:yes"),
          InlineKeyboardButton("No", callback_data="a:1:hiv_positive:no")],
         [InlineKeyboardButton("⬅️ Back", callback_data="b:1:hiv_positive")]]
    )  # fmt: skip

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and update.effective_chat is not None
        chat_id = update.effective_chat.id
        await query.answer()
        assert query.message is not None
        await context.bot.edit_message_text("Positive HIV serology\n✓ No", chat_id=chat_id,
                                            message_id=query.message.message_id, parse_mode="HTML")  # fmt: skip
        await context.bot.send_message(chat_id, "<b>HMN-001</b> · question 11/23\nActive "
                                       "hepatitis B or C", parse_mode="HTML", reply_markup=keyboard)  # fmt: skip

    app: Application = (  # type: ignore[type-arg]
        ApplicationBuilder()
        .token(TOKEN)
        .request(request)
        .get_updates_request(InstantRequest())
        .concurrent_updates(False)
        .build()
    )
    if kind == "framework_answer":
        app.add_handler(CallbackQueryHandler(answer))
    else:
        app.add_handler(MessageHandler(filters.TEXT, reply))
    await app.initialize()
    prepared = []
    for number in range(updates):
        user_id = FIRST_CLINICIAN + number % users
        user = {"id": user_id, "is_bot": False, "first_name": "Doc", "language_code": "en"}
        chat = {"id": user_id, "type": "private", "first_name": "Doc"}
        message = {"message_id": number + 1, "from": user, "chat": chat, "date": int(time.time()),
                   "text": "54"}  # fmt: skip
        if kind == "framework_answer":
            prompt = {"message_id": number + 1, "from": BOT_USER, "chat": chat,
                      "date": int(time.time()), "text": "HMN-001 · question 10/23\nPositive HIV"
                      " serology", "reply_markup": keyboard.to_dict()}  # fmt: skip
            data = {"update_id": number + 1, "callback_query": {
                "id": str(number + 1), "from": user, "chat_instance": str(user_id),
                "message": prompt, "data": "a:1:hiv_positive:no"}}  # fmt: skip
        else:
            data = {"update_id": number + 1, "message": message}
        prepared.append(data)
    started = time.perf_counter()
    for data in prepared:
        await app.process_update(Update.de_json(data, app.bot))
    elapsed = time.perf_counter() - started
    await app.shutdown()
    if conn is not None:
        await conn.close()
    return updates / elapsed


async def main(quick: bool, profile: bool, postgresql: str | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    rounds = 1 if quick else 3
    floor_updates = 1500 if quick else 3000
    with tempfile.TemporaryDirectory(prefix="lysyme-bench-") as tmp, contextlib.chdir(tmp):
        # (chdir: a bot on PostgreSQL writes its heartbeat file in the working folder)
        workdir = Path(tmp)
        if profile:
            await screening_round(10, workdir)  # warm-up
            figures = await screening_round(100, workdir, profile=True)
            print(figures.pop("profile"))
            return figures
        await screening_round(1, workdir)  # warm-up: imports, caches (not reported)
        runs: dict[int, list[dict[str, Any]]] = {n: [] for n in (1, 10, 100)}
        pg_runs: dict[int, list[dict[str, Any]]] = {n: [] for n in (1, 10, 100)}
        floors: dict[str, list[float]] = {kind: [] for kind in FLOORS}
        if postgresql:
            await screening_round(1, workdir, postgresql=postgresql)  # warm-up
        for _ in range(rounds):  # interleaved: a noisy neighbour hits all figures alike
            for clinicians in runs:
                runs[clinicians].append(await screening_round(clinicians, workdir))
                if postgresql:
                    pg_runs[clinicians].append(
                        await screening_round(clinicians, workdir, postgresql=postgresql)
                    )
            for kind in FLOORS:
                floors[kind].append(await floor_round(kind, floor_updates, 100, workdir))
    chosen = {n: _median_round(r) for n, r in runs.items()}
    headline = chosen[100]
    floor = {kind: statistics.median(values) for kind, values in floors.items()}
    on_postgresql: dict[str, Any] = {}
    if postgresql:
        pg_chosen = {n: _median_round(r) for n, r in pg_runs.items()}
        pg_headline = pg_chosen[100]
        on_postgresql = {
            "postgresql": {
                "answers_per_s": pg_headline["answers_per_s"],
                "p50_ms": pg_headline["p50_ms"],
                "p99_ms": pg_headline["p99_ms"],
                # Against the same SQLite durable floor: what the server round trips cost.
                "overhead_ratio": round(floor["durable"] / pg_headline["answers_per_s"], 2),
                "db_hops_per_answer": pg_headline["db_hops_per_answer"],
                "deferred_per_answer": pg_headline["deferred_per_answer"],
                "cpu_ms_per_answer": pg_headline["cpu_ms_per_answer"],
                "by_clinicians": {
                    str(n): {k: v for k, v in r.items() if k != "clinicians"}
                    for n, r in pg_chosen.items()
                },
            }
        }
    return {
        "benchmark": "dispatch",
        "clinicians": 100,
        "answers_per_s": headline["answers_per_s"],
        "p50_ms": headline["p50_ms"],
        "p99_ms": headline["p99_ms"],
        "framework_floor_per_s": round(floor["framework"], 1),
        "durable_floor_per_s": round(floor["durable"], 1),
        "overhead_ratio": round(floor["durable"] / headline["answers_per_s"], 2),
        "framework_answer_floor_per_s": round(floor["framework_answer"], 1),
        "db_hops_per_answer": headline["db_hops_per_answer"],
        "deferred_per_answer": headline["deferred_per_answer"],
        "cpu_ms_per_answer": headline["cpu_ms_per_answer"],
        "peak_rss_mb": peak_rss_mb(),
        "by_clinicians": {
            str(n): {k: v for k, v in r.items() if k != "clinicians"} for n, r in chosen.items()
        },
        **on_postgresql,
        "rounds": rounds,
        "quick": quick,
        "machine": machine(),
    }


@contextlib.contextmanager
def throwaway_postgresql() -> Iterator[str]:
    """A PostgreSQL cluster for this run only (scripts/throwaway-postgres), stopped after."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "throwaway-postgres"
    folder = tempfile.mkdtemp(prefix="lysyme-bench-pg-")
    started = subprocess.run([script, "start", folder], capture_output=True, text=True, check=True)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([script, "stop", folder], capture_output=True, check=False)


def _median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(rounds, key=lambda r: r["answers_per_s"])
    return ordered[len(ordered) // 2]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round per N (< 30 s)")
    parser.add_argument("--profile", action="store_true", help="cProfile one N = 100 round")
    parser.add_argument(
        "--postgresql",
        metavar="URL",
        help="also run every round on this PostgreSQL server ('start': a throw-away cluster)",
    )
    options = parser.parse_args()
    if options.postgresql == "start":
        with throwaway_postgresql() as url:
            emit(asyncio.run(main(options.quick, options.profile, url)))
    else:
        emit(asyncio.run(main(options.quick, options.profile, options.postgresql)))
