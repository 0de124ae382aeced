"""Start-up benchmark: time from launching `lysyme-bot run` (a subprocess) to its first
getUpdates request arriving at the fake Bot API server (tests/e2e/fake_telegram.py, in a
thread). Covers interpreter start, imports, settings, opening and migrating the database,
verifying the audit trail, the command menus, and the start of polling.

    python benchmarks/startup.py            # 1 start on a new database + 7 restarts
    python benchmarks/startup.py --quick    # 1 + 3

`start_s` is the median restart (an existing database: the production case), `first_start_s`
the start on a new database (migrations run). The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from support.common import ROOT, emit, machine

from tests.e2e.fake_telegram import FakeTelegram

ADMIN = 1001


def command() -> list[str]:
    script = Path(sys.executable).parent / "lysyme-bot"
    return [str(script), "run"] if script.exists() else [sys.executable, "-m", "bot.cli", "run"]


def one_start(tg: FakeTelegram, workdir: Path) -> float:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "LYSYME_DATABASE": str(workdir / "bot.sqlite3"),
        "LYSYME_ADMIN_IDS": str(ADMIN),
        "LYSYME_LANGUAGE": "en",
    }
    mark = tg.mark()

    def arrived() -> list[Any]:
        return [c for c in tg.calls("getUpdates") if c.index >= mark]

    launched = time.time()
    process = subprocess.Popen(
        command(), cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        first = tg.run_sync(tg.wait_for(arrived, timeout=60, what="the first getUpdates"))[0]
        elapsed = float(first.at) - launched
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.returncode != 0:
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"lysyme-bot run exited with {process.returncode}: {stderr[-500:]}")
    return elapsed


def main(quick: bool) -> dict[str, Any]:
    restarts = 3 if quick else 7
    tg = FakeTelegram.start_in_thread()
    try:
        with tempfile.TemporaryDirectory(prefix="lysyme-start-") as tmp:
            workdir = Path(tmp)
            first = one_start(tg, workdir)
            times = [one_start(tg, workdir) for _ in range(restarts)]
    finally:
        tg.stop_thread()
    return {
        "benchmark": "startup",
        "start_s": round(statistics.median(times), 3),
        "start_min_s": round(min(times), 3),
        "start_max_s": round(max(times), 3),
        "first_start_s": round(first, 3),
        "restarts": restarts,
        "quick": quick,
        "command": " ".join(Path(c).name if c.startswith("/") else c for c in command()),
        "machine": machine(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 restarts (< 30 s)")
    options = parser.parse_args()
    os.chdir(ROOT)
    emit(main(options.quick))
