"""kill -9 of a real `lysyme-bot run` right after it fetched a batch of many updates: after a
restart every update is handled exactly once (an update is confirmed to Telegram only once it
has been handled; a re-delivered one that had committed is recognised and dropped)."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN, process_env, run_process
from tests.e2e.fake_telegram import FakeTelegram

NEW_USERS = list(range(7001, 7041))  # 40 updates, one /adduser each


def bot_process(tg: FakeTelegram, workdir: Path) -> subprocess.Popen[bytes]:
    return run_process(process_env(tg, workdir), workdir)


def replies_per_user(tg: FakeTelegram) -> collections.Counter[int]:
    """How many times the admin was told each new user was added."""
    counts: collections.Counter[int] = collections.Counter()
    for message in tg.sent_messages(ADMIN):
        text = str(message.get("text", ""))
        for user in NEW_USERS:
            if str(user) in text:
                counts[user] += 1
    return counts


def test_kill_9_right_after_a_fetch_loses_and_doubles_nothing(
    server: FakeTelegram, tmp_path: Path
) -> None:
    tg = server
    # The whole batch waits at "Telegram" before the bot starts: its first getUpdates gets it.
    for user in NEW_USERS:
        tg.send_text(ADMIN, f"/adduser {user} clinician", language_code="en")
    process = bot_process(tg, tmp_path)
    try:
        fetched = tg.run_sync(tg.wait_for_call("getUpdates", lambda c: bool(c.result), timeout=30))
        assert len(fetched.result) == len(NEW_USERS)
        # Kill as soon as the first update has been answered: mid-batch.
        tg.run_sync(tg.wait_for_message(ADMIN, contains="70", timeout=10))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    handled_before = sum(replies_per_user(tg).values())
    assert 1 <= handled_before < len(NEW_USERS), handled_before  # the kill fell mid-batch
    assert tg.pending_updates(), "updates were confirmed before they were handled"

    process = bot_process(tg, tmp_path)
    try:
        tg.run_sync(tg.wait_for(lambda: not tg.pending_updates(), timeout=60, what="all confirmed"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert process.returncode == 0, stderr

    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        added = collections.Counter(
            int(field)
            for (field,) in conn.execute(
                "SELECT field FROM audit WHERE action='user_added' AND actor=?", (str(ADMIN),)
            )
        )
        users = {row[0] for row in conn.execute("SELECT telegram_id FROM users")}
    conn.close()
    # Every /adduser handled, and handled once: one audit row each.
    assert added == collections.Counter(NEW_USERS)
    assert set(NEW_USERS) <= users
    # No answer doubled. At most the one update in flight at the kill (committed, reply not
    # yet sent) can miss its reply: replies are made durable by the outbox, not by intake.
    replies = replies_per_user(tg)
    assert max(replies.values()) == 1, replies
    assert len(NEW_USERS) - len(replies) <= 1, sorted(set(NEW_USERS) - set(replies))


def test_a_token_telegram_rejects_is_one_line_without_the_token(
    server: FakeTelegram, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": "999999:REJECTED_token",
        "TELEGRAM_API_BASE_URL": server.base_url,
        "LYSYME_DATABASE": str(tmp_path / "bot.sqlite3"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "run: Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather "
        "(/token)"
    )


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_under_the_bot_pauses_it(
    server: FakeTelegram, tmp_path: Path, how: str
) -> None:
    tg = server
    database = tmp_path / "bot.sqlite3"
    process = bot_process(tg, tmp_path)
    try:
        tg.run_sync(tg.wait_for_poll())
        mark = tg.mark()
        tg.send_text(ADMIN, "/adduser 7001 clinician", language_code="en")
        tg.run_sync(tg.wait_for_message(ADMIN, contains="7001", after_index=mark, timeout=10))
        if how == "deleted":
            database.unlink()
        else:  # a copy (as a backup would be) moved over the live file
            copy = tmp_path / "copy.sqlite3"
            with sqlite3.connect(database) as live, sqlite3.connect(copy) as target:
                live.backup(target)
            live.close()
            target.close()
            os.replace(copy, database)
        mark = tg.mark()
        tg.send_text(ADMIN, "/adduser 7002 clinician", language_code="en")
        tg.run_sync(tg.wait_for_message(ADMIN, contains="paused", after_index=mark, timeout=10))
        tg.run_sync(tg.wait_for_message(ADMIN, contains="Database deleted or replaced",
                                        after_index=mark, timeout=15))  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)  # promptly, even in that state
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert process.returncode == 0, stderr
    assert f"database file {database} was {how}" in stderr
    if how == "replaced":
        with sqlite3.connect(database) as conn:  # nothing written into the replacement
            users = {row[0] for row in conn.execute("SELECT telegram_id FROM users")}
        conn.close()
        assert 7001 in users and 7002 not in users
