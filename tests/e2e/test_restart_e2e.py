"""kill -9 of a real `lysyme-bot run` mid-screening: after a restart the clinician continues the
same screening at the right question, and nothing acknowledged is lost."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

from tests.e2e.conftest import ADMIN, CLINICIAN, process_env, run_process
from tests.e2e.fake_telegram import FakeTelegram


def start_bot(tg: FakeTelegram, workdir: Path) -> subprocess.Popen[bytes]:
    env = process_env(tg, workdir)
    mark = tg.mark()
    process = run_process(env, workdir)
    tg.run_sync(tg.wait_for_poll(after_index=mark))
    return process


def say(tg: FakeTelegram, user: int, text: str, expect: str) -> str:
    mark = tg.mark()
    tg.send_text(user, text, language_code="en")
    call = tg.run_sync(tg.wait_for_message(user, contains=expect, after_index=mark, timeout=10))
    return str(call.result["text"])


def tap(tg: FakeTelegram, user: int, label: str, expect: str) -> None:
    message = next(
        m
        for m in reversed(tg.sent_messages(user))
        if (tg.message(user, m["message_id"]) or {}).get("reply_markup")
    )
    mark = tg.mark()
    tg.press_button_text(user, user, message["message_id"], label)
    tg.run_sync(tg.wait_for_message(user, contains=expect, after_index=mark, timeout=10))


def test_kill_9_mid_screening_then_resume(server: FakeTelegram, tmp_path: Path) -> None:
    tg = server
    process = start_bot(tg, tmp_path)
    try:
        say(tg, ADMIN, f"/adduser {CLINICIAN} clinician", expect=str(CLINICIAN))
        say(tg, CLINICIAN, "/screen", expect="Date of first symptoms")
        tap(tg, CLINICIAN, "Yesterday", expect="Date of admission")
        tap(tg, CLINICIAN, "Today", expect="Confirmed SJS")
        tap(tg, CLINICIAN, "Yes", expect="Age (years)")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    process = start_bot(tg, tmp_path)
    try:
        # The interrupted screening is offered back, at the question it was on.
        tg.run_sync(tg.wait_for_message(CLINICIAN, contains="resuming screening", timeout=10))
        tg.run_sync(tg.wait_for_message(CLINICIAN, contains="Age (years)", timeout=10))
        reply = say(tg, CLINICIAN, "54", expect="Ward")
        assert "HMN-001" in reply
        tap(tg, CLINICIAN, "Intensive care", expect="body surface area")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert "Traceback" not in stderr
    # Logs never contain answers (the typed age); each line's timestamp set aside, where
    # "54" may well appear (12:54:…, ,540).
    messages = [line.split(" ", 2)[-1] for line in stderr.splitlines()]
    assert not [m for m in messages if re.search(r"(?<![\d.:])54(?![\d.:])", m)], messages
