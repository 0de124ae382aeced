"""An answer is truthful about what was saved: when the database fails *after* a command's
transaction committed (the postmaster killed between the two, tests/e2e/
test_fencing_more_e2e.py), the user is told what was done, never "nothing was saved"."""

from __future__ import annotations

from typing import Any

import pytest

from bot.reminders import delivery as reminder_delivery
from storage import users as user_store
from storage.errors import StorageUnavailable
from tests.e2e.conftest import ADMIN, StartBot
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.test_membership_e2e import say


async def test_a_database_failure_after_the_commit_does_not_say_nothing_was_saved(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_bot()

    async def database_gone(*args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable("server closed the connection unexpectedly")

    # The step after every flow's commit (issue 14: is the user reachable again?) fails.
    monkeypatch.setattr(reminder_delivery, "on_activity", database_gone)
    answer = await say(tg, ADMIN, "/adduser 4242 clinician", expect="4242")
    assert "nothing was saved" not in answer.lower()
    ctx = app.bot_data["ctx"]
    listed = await ctx.db.read(user_store.list_users)
    assert "clinician" in next(u.roles for u in listed if u.telegram_id == 4242)
    assert "nothing was saved" not in (tg.last_text(ADMIN) or "").lower()
