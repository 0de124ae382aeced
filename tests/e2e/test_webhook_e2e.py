"""Webhook mode of a real `lysyme-bot run` subprocess: the fake Bot API server receives
setWebhook, then posts updates to the bot's webhook as Telegram does — with the secret token
(handled), without it or with a wrong one (403, not handled). SIGTERM right after an update
was accepted: that update is still handled, then the bot exits 0 with its database
checkpointed and intact."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import ADMIN, TEAM_CHAT
from tests.e2e.fake_telegram import FakeTelegram

SECRET = "lysyme-webhook-SECRET_42"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """PTB calls setWebhook just before its server starts listening: wait until it does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the bot exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)  # waiting for the server to listen, bounded by the deadline
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


def bot_env(tg: FakeTelegram, workdir: Path, port: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "LYSYME_DATABASE": str(workdir / "bot.sqlite3"),
        "LYSYME_ADMIN_IDS": str(ADMIN),
        "LYSYME_TEAM_CHAT_ID": str(TEAM_CHAT),
        "LYSYME_LANGUAGE": "en",
        "LYSYME_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "LYSYME_WEBHOOK_LISTEN": "127.0.0.1",
        "LYSYME_WEBHOOK_PORT": str(port),
        "LYSYME_WEBHOOK_SECRET": SECRET,
    }


def deliver(tg: FakeTelegram, user: int, expect: str) -> str:
    """POST the queued update to the webhook with the right secret; the bot's reply."""
    mark = tg.mark()
    assert tg.run_sync(tg.post_update_to_webhook()) == 200
    call = tg.run_sync(tg.wait_for_message(user, contains=expect, after_index=mark, timeout=10))
    return str(call.result["text"])


def say(tg: FakeTelegram, user: int, text: str, expect: str) -> str:
    tg.send_text(user, text, language_code="en")
    return deliver(tg, user, expect)


def tap(tg: FakeTelegram, user: int, label: str, expect: str) -> str:
    message = next(
        m
        for m in reversed(tg.sent_messages(user))
        if (tg.message(user, m["message_id"]) or {}).get("reply_markup")
    )
    tg.press_button_text(user, user, message["message_id"], label)
    return deliver(tg, user, expect)


def test_webhook_secret_checked_screening_and_graceful_stop(
    server: FakeTelegram, tmp_path: Path
) -> None:
    tg = server
    port = free_port()
    env = bot_env(tg, tmp_path, port)
    mark = tg.mark()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        tg.run_sync(tg.wait_for_call("setWebhook", after_index=mark, timeout=20))
        webhook = tg.webhook
        assert webhook is not None
        assert webhook.url == f"http://127.0.0.1:{port}/hook"
        assert webhook.secret_token == SECRET
        assert not tg.calls("getUpdates")  # a webhook, not polling
        assert tg.calls("setMyCommands")  # post_init ran
        wait_for_port(port, process)

        # The right secret: handled.
        assert "/screen" in say(tg, ADMIN, "/start", expect="/screen")

        # No secret, or a wrong one: 403, and never handled.
        forged = [tg.send_text(ADMIN, "/adduser 666 admin", language_code="en") for _ in "ab"]
        assert tg.run_sync(tg.post_update_to_webhook(secret_token=None)) == 403
        assert tg.run_sync(tg.post_update_to_webhook(secret_token="not-the-secret")) == 403
        mark = tg.mark()
        say(tg, ADMIN, "/help", expect="/screen")  # handled in order: a forged one would be first
        replies = [c for c in tg.calls()[mark:] if c.method == "sendMessage"]
        assert len(replies) == 1, [c.summary for c in replies]

        # A few screening steps, buttons and typed answers.
        assert "HMN-001" in say(tg, ADMIN, "/screen", expect="Date of first symptoms")
        tap(tg, ADMIN, "Yesterday", expect="Date of admission")
        tap(tg, ADMIN, "Today", expect="Confirmed SJS")
        tap(tg, ADMIN, "Yes", expect="Age (years)")

        # The health check sees a live webhook server and a database that answers.
        health = subprocess.run(
            [sys.executable, "-m", "bot.health"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        assert health.stdout.startswith("healthy:") and "webhook server answers" in health.stdout

        # SIGTERM just after an answer was accepted: it is still handled and acknowledged.
        mark = tg.mark()
        tg.send_text(ADMIN, "54", language_code="en")
        assert tg.run_sync(tg.post_update_to_webhook()) == 200
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    tg.run_sync(tg.wait_for_message(ADMIN, contains="Ward", after_index=mark, timeout=5))

    database = tmp_path / "bot.sqlite3"
    heartbeats = json.loads(Path(f"{database}-health.json").read_text())
    assert heartbeats["mode"] == "webhook" and heartbeats["stopped_at"]  # post_shutdown ran
    assert "update" in heartbeats["beats"] and "poll" not in heartbeats["beats"]
    wal = Path(f"{database}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed at close
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        answers = dict(conn.execute("SELECT question_id, value FROM answers").fetchall())
        assert answers["age"] == "54"
        handled = {row[0] for row in conn.execute("SELECT update_id FROM processed_updates")}
        assert not handled & set(forged)
        users = {row[0] for row in conn.execute("SELECT telegram_id FROM users")}
        assert 666 not in users
    conn.close()
    verify = subprocess.run(
        [sys.executable, "-m", "bot.cli", "verify-audit"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
