"""`lysyme-bot ARGS` run in the test's own process: `bot.cli.command_line`, the console script's entry
point, with the environment, working folder and standard streams a subprocess would get.

Each `lysyme-bot` subprocess starts a Python interpreter and imports the bot again: 0.3–1 s of
CPU on a 2-core machine. Tests that call the command line many times only to read its exit
status and its lines call it here instead; each test file keeps at least one real process for
what only a shell sees (the exit status of the interpreter, no traceback printed, standard
input, a lock held by another process).

The caller must not be inside a running event loop (the commands call `asyncio.run`): a plain
`def` test, not an `async def` one.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import TypeVar

import pytest

__all__ = ["lysyme_bot_in_process"]

_Key = TypeVar("_Key", bound=Hashable)


def lysyme_bot_in_process(
    *args: str, env: Mapping[str, str], cwd: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """What `subprocess.run(["lysyme-bot", *args], env=env, cwd=cwd, input=stdin, text=True,
    capture_output=True)` returns, without a new process.

    - Environment: every LYSYME_* and TELEGRAM_* variable of this process removed, then `env`
      set (for the call only). Without `cwd`, an empty folder: no `.env` is read.
    - Exit status as the interpreter gives it: `main`'s return value; a SystemExit's code
      (None is 0; a message is printed on stderr, 1); an exception that escapes prints its
      traceback on stderr, 1 (so "no traceback" assertions see it).
    - The database locks the command took (storage/lock.py, "held until the process ends")
      are released when it returns, as the kernel releases them when a process exits.
    """
    from bot.cli import command_line as cli
    from storage import lock

    stdout, stderr = io.StringIO(), io.StringIO()
    held, held_files = set(lock._HELD), set(lock._HELD_DATABASES)
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        if cwd is None:
            cwd = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lysyme-cwd-")))
        for name in [n for n in os.environ if n.startswith(("LYSYME_", "TELEGRAM_"))]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(cwd)
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    code = cli.main(list(args))
                except SystemExit as exc:
                    code = _exit_status(exc)
                except Exception:
                    stderr.write(traceback.format_exc())
                    code = 1
        finally:
            _release(lock._HELD, held)
            _release(lock._HELD_DATABASES, held_files)
    return subprocess.CompletedProcess(["lysyme-bot", *args], code, stdout.getvalue(),
                                       stderr.getvalue())  # fmt: skip


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _release(descriptors: dict[_Key, int], before: set[_Key]) -> None:
    """Close the lock descriptors taken since `before` (closing one releases its `flock`)."""
    for key in [k for k in descriptors if k not in before]:
        os.close(descriptors.pop(key))
