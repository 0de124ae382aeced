"""Sender benchmark: the 08:00 burst of 1,000 open patients (issue 14).

1,000 eligible patients screened the day before (real SQLite file with the production
pragmas, the real outbox, `bot.reminders.sender.sweep` with its decoration, escalation and reroute
branches); at 08:00 every patient's day-1 reminder falls due for the team group and for its
owner: 2,000 rows. The sweep sends them through an instant fake `send` (no network, no rate
limiter): what the bot itself costs per reminder (claim, re-check, word, mark sent, audit).

Telegram's own limits then bound the wall-clock time: 20 messages/min in one group and
~30/s overall (AIORateLimiter): printed as `paced_seconds` for this burst.

    python benchmarks/sender.py [--patients N]
    python benchmarks/sender.py --quick    # 100 patients, < 30 s

The last line of stdout is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.flows import injection, ownership  # noqa: E402, F401  (registers the kinds' flows)
from bot.reminders import delivery as reminder_delivery  # noqa: E402
from bot.reminders import sweep  # noqa: E402
from tests.bot.test_reminders import TEAM, FakeSend, local, make_env, screen_patient  # noqa: E402


async def run(patients: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as folder:
        start = local(2026, 11, 20, 10)
        env = await make_env(Path(folder) / "bench.sqlite3", start)
        try:
            for _ in range(patients):
                await screen_patient(env.ctx, start, dt.date(2026, 11, 20))
            await sweep.sweep(env.ctx, start, FakeSend(), limit=10_000)  # the outcome notices
            send = FakeSend()
            morning = local(2026, 11, 21, 8)
            began = time.perf_counter()
            sent = 0
            while True:
                result = await sweep.sweep(env.ctx, morning, send)
                sent += result.sent
                if not result.claimed:
                    break
            elapsed = time.perf_counter() - began
        finally:
            await env.ctx.db.close()
    team = len(send.to(TEAM))
    private = sent - team
    paced = max(
        team / reminder_delivery.GROUP_PER_MINUTE * 60, sent / reminder_delivery.OVERALL_PER_SECOND
    )  # the group limit dominates
    return {
        "benchmark": "sender",
        "patients": patients,
        "reminders_sent": sent,
        "seconds": round(elapsed, 3),
        "reminders_per_second": round(sent / elapsed, 1),
        "team_messages": team,
        "private_messages": private,
        "paced_seconds": round(paced, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=None, help="1,000 unless --quick")
    parser.add_argument("--quick", action="store_true", help="100 patients (< 30 s)")
    args = parser.parse_args()
    patients = args.patients or (100 if args.quick else 1000)
    figures = asyncio.run(run(patients))
    print(json.dumps({**figures, "quick": args.quick}))


if __name__ == "__main__":
    main()
