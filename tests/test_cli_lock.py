"""One process per database: a second `lysyme-bot run` (or `migrate`, or `console` on the same
database) is refused with one line naming the holder; a kill -9 of the holder never blocks
the restart. Real processes against the fake Bot API server."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ADMIN, TEAM_CHAT, process_env
from tests.e2e.fake_telegram import FakeTelegram


def environment(tg: FakeTelegram, workdir: Path) -> dict[str, str]:
    return process_env(tg, workdir)


def start(tg: FakeTelegram, workdir: Path) -> subprocess.Popen[bytes]:
    mark = tg.mark()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=workdir,
        env=environment(tg, workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    tg.run_sync(tg.wait_for_poll(after_index=mark))
    return process


def lysyme_bot(tg: FakeTelegram, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=workdir,
        env=environment(tg, workdir),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stop(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.stderr.read().decode() if process.stderr else ""


def test_a_second_process_is_refused_naming_the_holder(
    server: FakeTelegram, tmp_path: Path
) -> None:
    tg = server
    first = start(tg, tmp_path)
    try:
        for command in ("run", "migrate", "console"):
            second = lysyme_bot(tg, tmp_path, command)
            assert second.returncode == 2, (command, second.stderr)
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, (command, second.stderr)
            assert f"pid {first.pid} on {socket.gethostname()}" in lines[0]
            assert "lysyme-bot run" in lines[0] and " since 20" in lines[0]
            assert lines[0].startswith(f"{command}: database ")
            assert tg.token not in lines[0]
        assert first.poll() is None  # the first one runs on, undisturbed
    finally:
        stderr = stop(first)
    assert first.returncode == 0, stderr
    assert (
        f"started as @lysyme_test_bot, database {tmp_path / 'bot.sqlite3'}, "
        f"team chat {TEAM_CHAT}, mode polling"
    ) in stderr
    assert tg.token not in stderr


def test_a_kill_9_never_blocks_the_restart(server: FakeTelegram, tmp_path: Path) -> None:
    tg = server
    first = start(tg, tmp_path)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    again = start(tg, tmp_path)  # at once: the kernel released the dead process's lock
    try:
        mark = tg.mark()
        tg.send_text(ADMIN, "/start", language_code="en")
        tg.run_sync(tg.wait_for_message(ADMIN, after_index=mark, timeout=10))
    finally:
        stderr = stop(again)
    assert again.returncode == 0, stderr


def test_a_removed_lock_file_still_refuses_a_second_run(
    server: FakeTelegram, tmp_path: Path
) -> None:
    """The lock file deleted (an `rm`, a clean-up script) while the bot runs: a new file at
    that path would be a new, free lock; the database file itself is locked too."""
    tg = server
    first = start(tg, tmp_path)
    try:
        (tmp_path / "bot.sqlite3.lock").unlink()
        for command in ("run", "migrate"):
            second = lysyme_bot(tg, tmp_path, command)
            assert second.returncode == 2, (command, second.stderr)
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, (command, second.stderr)
            assert lines[0].startswith(f"{command}: database ")
            assert "in use by another process" in lines[0] and "was removed" in lines[0]
        assert first.poll() is None  # the first one runs on, undisturbed
        assert [c for c in tg.calls("getUpdates") if c.status == 409] == []  # no 409 fight
    finally:
        stderr = stop(first)
    assert first.returncode == 0, stderr
