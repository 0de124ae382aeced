"""Team membership (issue 24) through the real Application (in-process fake Bot API), on both
database backends: invitation links (hashed, single use, refused once used or expired, rate
limited), the contact picker of /adduser, end dates (the 7-day reminder and its button, the
lapse), /users, and every bad input answered in one line with nothing changed."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Connection

from bot.cli.command_line import main
from bot.texts import t
from bot.views import export as export_view
from conversations import membership as rules
from conversations.delegation import NOT_ACTS, derive
from conversations.membership import hash_token
from conversations.windows import local_today
from storage import membership as m_store
from storage.db import Database
from storage.open import open_database
from storage.sql import fetch_all
from tests.bot.fake_request import ADMIN, CLINICIAN, GROUP_CHAT, STRANGER, Harness
from tests.conftest import sqlite_only

LINK = re.compile(r"https://t\.me/lysyme_test_bot\?start=(inv_[A-Za-z0-9_-]+)")
RESIDENT = 5005
SECOND = 5006


@pytest.fixture
async def bot(database_target: Path | str) -> AsyncIterator[Harness]:
    async with Harness.started(database_target) as harness:
        yield harness


def today(bot: Harness) -> dt.date:
    return local_today(bot.clock(), bot.ctx.zone)


def ddmmyyyy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


async def invite(bot: Harness, words: str) -> str:
    """An admin's /invite; returns the /start payload of the link."""
    mark = bot.mark()
    await bot.text(ADMIN, f"/invite {words}")
    replies = bot.texts(ADMIN, mark)
    found = [m.group(1) for reply in replies if (m := LINK.search(reply))]
    assert len(found) == 1, replies
    return found[0]


async def start(bot: Harness, user_id: int, payload: str, chat_id: int | None = None) -> list[str]:
    mark = bot.mark()
    await bot.feed({"message": {**bot.message_dict(user_id, chat_id, text=f"/start {payload}"),
                                "entities": bot.command_entities("/start")}})  # fmt: skip
    return bot.texts(chat_id if chat_id is not None else user_id, mark)


async def listed(bot: Harness, user_id: int) -> bool:
    member = await bot.ctx.db.read(m_store.member, user_id)
    return member is not None and member.active


async def trail(bot: Harness) -> list[Any]:
    return await bot.ctx.db.read(fetch_all, "SELECT * FROM audit ORDER BY id")


async def sweep(bot: Harness) -> None:
    """A whole sweep that began after this call: the one in progress, if any, may have begun
    before the rows just queued were committed."""
    sender = bot.app.bot_data["reminder_sender"]
    await sender.next_sweep()
    await sender.next_sweep()


async def live_until(bot: Harness, moment: dt.datetime) -> None:
    """The bot running until `moment`: a sweep every few hours (a jump of more than a day
    would pause the sender until an admin confirms the clock)."""
    while bot.clock() + dt.timedelta(hours=6) < moment:
        bot.clock.advance(hours=6)
        await sweep(bot)
    bot.clock.set(moment)


# --- invitations ----------------------------------------------------------------------------


async def test_an_invitation_is_used_by_one_person_and_refused_to_a_second(bot: Harness) -> None:
    until = today(bot) + dt.timedelta(days=120)
    payload = await invite(bot, f"clinician until {ddmmyyyy(until)}")
    token = payload.removeprefix("inv_")
    assert len(token) >= 22  # ≥ 128 bits in base64url

    # Stored only as its hash: not in the invitations, the users, the trail, anywhere.
    rows = await bot.ctx.db.read(fetch_all, "SELECT token_hash FROM invitations")
    assert [r["token_hash"] for r in rows] == [hash_token(token)]
    dump = json.dumps([list(r.values()) for r in await trail(bot)], default=str)
    assert token not in dump and hash_token(token) not in dump

    told = bot.mark()  # before the join: the running sender may tell the admins at once
    replies = await start(bot, RESIDENT, payload)
    assert t("en", "mb.welcome", roles="clinician") in replies[0]
    assert ddmmyyyy(until) in replies[0]
    assert "/screen" in replies[1]
    member = await bot.ctx.db.read(m_store.member, RESIDENT)
    assert member is not None and member.active and member.roles == {"clinician"}
    assert member.until_day == until and member.granted_by == str(ADMIN)
    assert member.full_name == "Test"

    # The admins are told, privately, who joined as what through whose invitation.
    await sweep(bot)
    (notice,) = bot.texts(ADMIN, told)
    assert "joined the team as clinician" in notice and str(RESIDENT) in notice
    assert str(ADMIN) in notice

    # A second person with the same link: one line, nothing changed, audited as refused.
    before = len(await trail(bot))
    assert await start(bot, SECOND, payload) == [t("en", "mb.link_refused")]
    assert not await listed(bot, SECOND)
    after = await trail(bot)
    assert len(after) == before + 1 and after[-1]["action"] == "invitation_refused"
    assert after[-1]["actor"] == str(SECOND) and after[-1]["reason"] == "used"


async def test_an_invitation_expires_after_seven_days_and_can_be_revoked(bot: Harness) -> None:
    late = await invite(bot, "coordinator")
    revoked = await invite(bot, "clinician")
    mark = bot.mark()
    await bot.text(ADMIN, "/invite")
    assert "2 pending invitation(s)" in bot.texts(ADMIN, mark)[0]
    revoke = [d for label, d in bot.buttons(ADMIN) if label.endswith("no. 2")]
    await bot.press(ADMIN, revoke[0])
    assert await start(bot, SECOND, revoked) == [t("en", "mb.link_refused")]
    bot.clock.advance(days=7)
    assert await start(bot, RESIDENT, late) == [t("en", "mb.link_refused")]
    assert not await listed(bot, RESIDENT) and not await listed(bot, SECOND)
    mark = bot.mark()
    await bot.text(ADMIN, "/invite")
    assert t("en", "mb.no_pending") in bot.texts(ADMIN, mark)[0]


async def test_a_token_is_used_once_under_two_simultaneous_uses(
    database_target: Path | str, clock: Any
) -> None:
    """Two replicas (two connections) mark the same invitation at once: exactly one wins."""
    first = await open_database(database_target)
    second = await open_database(database_target)
    now = clock()
    try:
        number = await first.write(
            m_store.create_invitation, hash_token("x" * 43), frozenset({"clinician"}), None,
            ADMIN, now, now + dt.timedelta(days=7),
        )  # fmt: skip

        def use_it(conn: Connection, user_id: int) -> bool:
            won = m_store.use_invitation(conn, number, user_id, now)
            # Hold the transaction open while the other tries (this database's own thread).
            time.sleep(0.05)
            return won

        async def use(db: Database, user_id: int) -> bool:
            return await db.write(use_it, user_id)

        results = await asyncio.gather(use(first, RESIDENT), use(second, SECOND))
        assert sorted(results) == [False, True]
        found = await first.read(m_store.invitation_by_id, number)
        assert found is not None and found.used_by in (RESIDENT, SECOND)
    finally:
        await first.close()
        await second.close()


async def test_ten_refused_attempts_in_an_hour_are_rate_limited(bot: Harness) -> None:
    payload = await invite(bot, "clinician")
    for _ in range(10):
        assert await start(bot, STRANGER, f"inv_{'A' * 43}") == [t("en", "mb.link_refused")]
    # The eleventh is refused before the token is even looked at, a valid one included.
    assert await start(bot, STRANGER, payload) == [t("en", "mb.too_many")]
    assert not await listed(bot, STRANGER)
    bot.clock.advance(hours=1)
    assert t("en", "mb.welcome", roles="clinician") in (await start(bot, STRANGER, payload))[0]
    limited = [r for r in await trail(bot) if r["action"] == "invitation_rate_limited"]
    assert len(limited) == 1


@sqlite_only
async def test_bad_links_get_one_line_and_change_nothing(bot: Harness) -> None:
    payload = await invite(bot, "clinician")
    for forged in (payload[:-1], payload[:-1] + ("B" if payload[-1] != "B" else "C"), "inv_"):
        assert await start(bot, RESIDENT, forged) == [t("en", "mb.link_refused")]
    # Another bot's payload: the stranger's usual refusal, with their id.
    assert await start(bot, SECOND, "ref_12345") == [t("en", "access.unknown", user_id=SECOND)]
    # Opened in a group: one line, the link stays usable.
    assert await start(bot, RESIDENT, payload, chat_id=GROUP_CHAT) == [t("en", "mb.link_in_group")]
    assert not await listed(bot, RESIDENT) and not await listed(bot, SECOND)
    assert t("en", "mb.welcome", roles="clinician") in (await start(bot, RESIDENT, payload))[0]


@sqlite_only
async def test_bad_roles_and_dates_get_one_line_and_change_nothing(bot: Harness) -> None:
    year = today(bot).year + 1
    yesterday = ddmmyyyy(today(bot) - dt.timedelta(days=1))
    before = len(await trail(bot))
    cases = {
        "/invite nurse": t("en", "mb.unknown_role", word="nurse", roles="")[:30],
        f"/invite clinician until 31/02/{year}": t("en", "mb.bad_date", value=f"31/02/{year}"),
        "/invite clinician until": t("en", "mb.no_date"),
        f"/invite clinician until {yesterday}": t("en", "mb.past_date", value=yesterday),
        f"/adduser {RESIDENT} nurse": t("en", "mb.unknown_role", word="nurse", roles="")[:30],
        f"/adduser {RESIDENT} clinician until 31/02/{year}": t(
            "en", "mb.bad_date", value=f"31/02/{year}"
        ),
        f"/adduser {RESIDENT} clinician until": t("en", "mb.no_date"),
        f"/adduser {RESIDENT} clinician until {yesterday}": t(
            "en", "mb.past_date", value=yesterday
        ),
    }
    for command, expected in cases.items():
        mark = bot.mark()
        await bot.text(ADMIN, command)
        replies = bot.texts(ADMIN, mark)
        assert len(replies) == 1 and replies[0].startswith(expected), (command, replies)
    assert len(await trail(bot)) == before
    assert not await listed(bot, RESIDENT)
    assert not await bot.ctx.db.read(fetch_all, "SELECT id FROM invitations")


@sqlite_only
async def test_french_role_names_are_understood(bot: Harness) -> None:
    mark = bot.mark()
    await bot.text(ADMIN, f"/adduser {RESIDENT} clinicien coordinateur")
    assert "clinician, coordinator" in bot.texts(ADMIN, mark)[0]
    member = await bot.ctx.db.read(m_store.member, RESIDENT)
    assert member is not None and member.roles == {"clinician", "coordinator"}


# --- the contact picker -----------------------------------------------------------------------


@sqlite_only
async def test_adduser_without_an_id_offers_the_contact_picker(bot: Harness) -> None:
    until = today(bot) + dt.timedelta(days=60)
    mark = bot.mark()
    await bot.text(ADMIN, f"/adduser coordinator until {ddmmyyyy(until)}")
    (call,) = bot.sent(ADMIN, mark)
    markup = call.params["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    (row,) = markup["keyboard"]
    request = row[0]["request_users"]
    assert request["request_name"] and request["request_username"]
    assert request["max_quantity"] == 1 and request["user_is_bot"] is False

    mark = bot.mark()
    shared = {"request_id": request["request_id"],
              "users": [{"user_id": RESIDENT, "first_name": "Alice", "last_name": "Martin",
                         "username": "amartin"}]}  # fmt: skip
    await bot.feed({"message": bot.message_dict(ADMIN, users_shared=shared)})
    (reply,) = bot.texts(ADMIN, mark)
    assert "Alice Martin @amartin" in reply and "coordinator" in reply
    member = await bot.ctx.db.read(m_store.member, RESIDENT)
    assert member is not None and member.roles == {"coordinator"} and member.until_day == until
    # A forged request id (no role in it) changes nothing.
    mark = bot.mark()
    forged = {"request_id": 0, "users": [{"user_id": SECOND}]}
    await bot.feed({"message": bot.message_dict(ADMIN, users_shared=forged)})
    assert bot.texts(ADMIN, mark) == [t("en", "mb.pick_stale")]
    assert not await listed(bot, SECOND)


# --- end dates --------------------------------------------------------------------------------


async def test_an_access_lapses_at_the_end_of_its_day_and_the_person_is_told_once(
    bot: Harness,
) -> None:
    last_day = today(bot) + dt.timedelta(days=2)
    await bot.text(ADMIN, f"/adduser {RESIDENT} clinician until {ddmmyyyy(last_day)}")
    # 23:59 local on the last day: still in.
    evening = dt.datetime.combine(last_day, dt.time(23, 59), tzinfo=bot.ctx.zone)
    await live_until(bot, evening.astimezone(dt.UTC))
    mark = bot.mark()
    await bot.text(RESIDENT, "/screen")
    assert "HMN-001" in " ".join(bot.texts(RESIDENT, mark))
    # Midnight: the gate refuses at once, the sender records the lapse and tells them once.
    bot.clock.advance(minutes=1)
    mark = bot.mark()
    await bot.text(RESIDENT, "/status")
    assert bot.texts(RESIDENT, mark) == [t("en", "access.unknown", user_id=RESIDENT)]
    mark = bot.mark()
    await sweep(bot)
    await sweep(bot)
    told = [x for x in bot.texts(RESIDENT, mark) if "has ended" in x]
    assert told == [t("en", "mb.lapsed_you", day=ddmmyyyy(last_day))]
    assert not await listed(bot, RESIDENT)
    lapses = [r for r in await trail(bot) if r["action"] == "access_lapsed"]
    assert len(lapses) == 1 and lapses[0]["field"] == str(RESIDENT)
    # The open screening is offered to the coordinators (here none: the admins).
    handover = [x for x in bot.texts(ADMIN, mark) if "HMN-001" in x]
    assert handover and "/resume HMN-001" in handover[0]


async def test_admins_are_reminded_seven_days_before_and_may_extend(bot: Harness) -> None:
    last_day = today(bot) + dt.timedelta(days=30)
    await bot.text(ADMIN, f"/adduser {RESIDENT} clinician until {ddmmyyyy(last_day)}")
    reminder = dt.datetime.combine(last_day - dt.timedelta(days=7), dt.time(8), bot.ctx.zone)
    mark = bot.mark()
    await live_until(bot, reminder.astimezone(dt.UTC) - dt.timedelta(minutes=1))
    await sweep(bot)
    assert not [x for x in bot.texts(ADMIN, mark) if "Extend" in x]
    bot.clock.advance(minutes=1)
    await sweep(bot)
    (notice,) = [x for x in bot.texts(ADMIN, mark) if "Extend it by 6 months" in x]
    assert ddmmyyyy(last_day) in notice and str(RESIDENT) in notice
    mark = bot.mark()
    await bot.tap(ADMIN, t("en", "mb.extend_button"))
    new_day = last_day.replace(year=last_day.year + (last_day.month + 6 > 12),
                               month=(last_day.month + 5) % 12 + 1)  # fmt: skip
    assert any(ddmmyyyy(new_day) in x for x in bot.texts(ADMIN, mark))
    member = await bot.ctx.db.read(m_store.member, RESIDENT)
    assert member is not None and member.until_day == new_day
    # The same button again: stale, nothing changes.
    await bot.press(ADMIN, f"ax:{RESIDENT}:{last_day.isoformat()}")
    member = await bot.ctx.db.read(m_store.member, RESIDENT)
    assert member is not None and member.until_day == new_day


@sqlite_only
async def test_users_shows_roles_since_until_and_who_granted(bot: Harness) -> None:
    last_day = today(bot) + dt.timedelta(days=90)
    payload = await invite(bot, f"coordinator until {ddmmyyyy(last_day)}")
    await start(bot, RESIDENT, payload)
    await bot.text(ADMIN, f"/adduser {CLINICIAN} clinician")
    await invite(bot, "clinician")
    await sweep(bot)  # the notices the joining queued for the admins: out before the mark
    mark = bot.mark()
    await bot.text(ADMIN, "/users")
    (text,) = bot.texts(ADMIN, mark)
    lines = {line.split("</code>")[0].removeprefix("<code>"): line for line in text.splitlines()}
    resident = lines[str(RESIDENT)]
    assert "coordinator" in resident and ddmmyyyy(last_day) in resident
    assert f"since {ddmmyyyy(today(bot))} (by {ADMIN})" in resident
    assert "no end date" in lines[str(CLINICIAN)]
    assert t("en", "mb.by_settings") in lines[str(ADMIN)]
    assert "1 pending invitation(s)" in text


# --- the delegation log -----------------------------------------------------------------------


async def test_the_delegation_log_agrees_with_the_trail(bot: Harness, tmp_path: Path) -> None:
    """Replay the trail of a semester: every act falls inside an access period of its actor,
    and the log's periods are the grants, removals and lapses that happened."""
    last_day = today(bot) + dt.timedelta(days=2)
    payload = await invite(bot, f"clinician until {ddmmyyyy(last_day)}")
    await start(bot, RESIDENT, payload)
    await bot.text(RESIDENT, "/screen")
    await bot.text(ADMIN, f"/adduser {CLINICIAN} coordinator")
    await bot.text(CLINICIAN, "/export csv")
    await start(bot, SECOND, payload)  # refused: an attempt, not an act of a member
    await bot.text(ADMIN, f"/removeuser {CLINICIAN}")
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0, 5), bot.ctx.zone)
    await live_until(bot, end.astimezone(dt.UTC))
    await sweep(bot)

    acts = await bot.ctx.db.read(m_store.trail_acts)
    log = derive(acts)
    assert log.orphans == []
    for act in acts:
        if act.actor.isdigit() and act.action not in NOT_ACTS:
            assert any(p.person == int(act.actor) and p.covers(act) for p in log.periods), act
    by = {(p.person, p.role): p for p in log.periods}
    resident = by[(RESIDENT, "clinician")]
    assert resident.granted_by == str(ADMIN) and resident.lapsed and resident.until == last_day
    assert resident.end == rules.end_of_local_day(last_day, bot.ctx.zone)
    assert resident.acts["screening_opened"] == 1
    coordinator = by[(CLINICIAN, "coordinator")]
    assert coordinator.removed_by == str(ADMIN) and coordinator.acts["export"] == 1
    assert (SECOND, "clinician") not in by

    # The monitor's files: the CSV of `export --format delegation` and the XLSX's sheet.
    data = await bot.ctx.db.read(export_view.read_export)
    files = await export_view.render_export(data, bot.ctx.settings, "fr", bot.clock(),
                                            ("delegation", "xlsx"))  # fmt: skip
    csv_file, xlsx_file = files.files
    rows = list(csv.DictReader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    mine = [r for r in rows if r["Identifiant Telegram"] == str(RESIDENT)]
    assert len(mine) == 1 and mine[0]["Rôle"] == "clinicien"
    assert mine[0]["Retiré par"] == t("fr", "dl.lapsed")
    assert mine[0]["Accordé par"].endswith(f"({ADMIN})") or mine[0]["Accordé par"] == str(ADMIN)
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_file.content))
    sheet = workbook[t("fr", "dl.sheet")]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert any(row[0] == RESIDENT and row[2] == "clinicien" for row in values)


async def test_cli_export_format_delegation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "cli.sqlite3"
    async with Harness.started(database) as harness:
        await harness.text(ADMIN, f"/adduser {RESIDENT} clinician")
    monkeypatch.setenv("LYSYME_DATABASE", str(database))
    monkeypatch.setenv("LYSYME_LANGUAGE", "en")
    out = tmp_path / "out"
    out.mkdir()
    assert await asyncio.to_thread(main, ["export", str(out), "--format", "delegation"]) == 0
    (written,) = list(out.iterdir())
    assert written.name.startswith("lysyme-delegation-log-") and written.suffix == ".csv"
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    rows = list(csv.DictReader(io.StringIO(written.read_text(encoding="utf-8-sig"))))
    assert {(r["Telegram id"], r["Role"]) for r in rows} == {
        (str(ADMIN), "admin"), (str(RESIDENT), "clinician")}  # fmt: skip
