"""The one access gate, through the real Application (in-process, fake Bot API): every command
for every role exactly as DESIGN.md's roles table says; refusals reveal nothing; patient data
only in private chats; forged button data refused without effect; removal is immediate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from bot.texts import t
from storage.sql import fetch_all
from tests.bot.fake_request import (
    ADMIN,
    CLINICIAN,
    CLINICIAN_2,
    COORDINATOR,
    GROUP_CHAT,
    STRANGER,
    Harness,
)
from tests.conftest import day, sqlite_only

# DESIGN.md "Commands and roles", written out independently of the bot's own tables.
ANYONE_LISTED = {"clinician", "coordinator", "admin"}
EXPECTED: dict[str, set[str]] = {
    "start": ANYONE_LISTED,
    "help": ANYONE_LISTED,
    "language": ANYONE_LISTED,
    "screen": {"clinician", "admin"},
    "back": {"clinician", "admin"},
    "cancel": {"clinician", "admin"},
    "resume": {"clinician", "admin"},
    "update": {"clinician", "admin"},
    "d0": {"clinician", "admin"},
    "withdraw": {"clinician", "admin"},
    "status": {"clinician", "coordinator", "admin"},
    "patient": {"coordinator", "admin"},
    "correct": {"coordinator", "admin"},
    "export": {"coordinator", "admin"},
    "stats": {"coordinator", "admin"},
    "users": {"admin"},
    "adduser": {"admin"},
    "removeuser": {"admin"},
    "invite": {"admin"},
    "reminders": {"coordinator", "admin"},
}
#: DESIGN.md: "Commands that show patient data work in private chats only".
PRIVATE_ONLY = set(EXPECTED) - {"start", "help", "language"}
USERS = {"clinician": CLINICIAN, "coordinator": COORDINATOR, "admin": ADMIN}
PATIENT_DATA = ("HMN-001", "54", day(-2), "2026-11-19")


@pytest.fixture
async def bot(database_target: Path | str) -> AsyncIterator[Harness]:
    """A bot with a clinician and a coordinator, and one screening under way (HMN-001)."""
    async with Harness.started(database_target) as harness:
        await harness.add_user(CLINICIAN, "clinician")
        await harness.add_user(CLINICIAN_2, "clinician")
        await harness.add_user(COORDINATOR, "coordinator")
        await harness.text(CLINICIAN, "/screen")
        await harness.text(CLINICIAN, day(-2))
        await harness.tap(CLINICIAN, "Yesterday")
        await harness.tap(CLINICIAN, "Yes")
        await harness.text(CLINICIAN, "54")
        assert "Ward" in harness.last_text(CLINICIAN)
        yield harness
        assert not harness.request.rejected, harness.request.rejected[:3]


def refused_for_role(command: str) -> str:
    return t("en", "access.role", command=command)


async def reply_to(bot: Harness, user_id: int, text: str, chat_id: int | None = None) -> list[str]:
    mark = bot.mark()
    await bot.text(user_id, text, chat_id=chat_id)
    return bot.texts(chat_id if chat_id is not None else user_id, mark)


@sqlite_only
@pytest.mark.parametrize("role", ["clinician", "coordinator", "admin"])
async def test_build_application_routes_every_command_of_the_roles_table(
    bot: Harness, role: str
) -> None:
    """The Application `build_application` makes (production wiring, no test registration)
    gives every command of DESIGN.md's table a handler, refused or accepted per role."""
    user_id = USERS[role]
    not_routed = t("en", "error.not_understood")
    assert await reply_to(bot, user_id, "/nonsense") == [not_routed]  # what "no handler" reads
    for command in EXPECTED:
        if command in ("removeuser", "cancel"):
            continue  # below, with arguments that keep the fixture intact
        replies = await reply_to(bot, user_id, f"/{command}")
        assert replies, (role, command)
        refusal = refused_for_role(command)
        if role in EXPECTED[command]:
            assert refusal not in replies, (role, command, replies)
            assert not_routed not in replies, (role, command, replies)
        else:
            assert replies == [refusal], (role, command, replies)
            assert not any(value in replies[0] for value in PATIENT_DATA)
    replies = await reply_to(bot, user_id, "/removeuser")
    assert (replies == [refused_for_role("removeuser")]) is (role != "admin"), replies
    assert replies != [not_routed]
    replies = await reply_to(bot, user_id, "/cancel")  # last: it may end the fixture's screening
    assert replies and not_routed not in replies, replies
    assert (replies == [refused_for_role("cancel")]) is (role == "coordinator"), replies


@sqlite_only
async def test_help_lists_only_the_commands_a_role_may_use(bot: Harness) -> None:
    for role, user_id in USERS.items():
        (help_text,) = await reply_to(bot, user_id, "/help")
        listed = {line.split()[0][1:] for line in help_text.splitlines() if line.startswith("/")}
        assert listed == {c for c in EXPECTED if role in EXPECTED[c]} - {"start"}, role


async def test_unknown_user_gets_one_refusal_with_their_id_and_nothing_else(bot: Harness) -> None:
    mark = bot.mark()
    for command in [*EXPECTED, "nonsense"]:
        replies = await reply_to(bot, STRANGER, f"/{command} HMN-001")
        assert replies == [t("en", "access.unknown", user_id=STRANGER)], (command, replies)
    for text in ("hello", "54", day(-2)):
        replies = await reply_to(bot, STRANGER, text)
        assert replies == [t("en", "access.unknown", user_id=STRANGER)]
    everything = " ".join(bot.texts(STRANGER, mark))
    assert str(STRANGER) in everything
    assert not any(value in everything for value in PATIENT_DATA)
    # The admins are told once a day, not once per message.
    notices = [x for x in bot.texts(ADMIN, mark) if f"/adduser {STRANGER}" in x]
    assert len(notices) == 1
    bot.clock.advance(days=1, minutes=1)
    await bot.text(STRANGER, "/start")
    assert len([x for x in bot.texts(ADMIN, mark) if f"/adduser {STRANGER}" in x]) == 2


@sqlite_only
async def test_patient_data_commands_in_a_group_point_to_the_private_chat(bot: Harness) -> None:
    pointer = t("en", "access.private_only", bot="@")
    before = await answers_snapshot(bot)
    for command in sorted(PRIVATE_ONLY):
        for user_id in (ADMIN, CLINICIAN, COORDINATOR):
            role = next(r for r, u in USERS.items() if u == user_id)
            replies = await reply_to(bot, user_id, f"/{command} HMN-001", chat_id=GROUP_CHAT)
            if role in EXPECTED[command]:
                assert replies == [pointer], (command, role, replies)
            else:
                assert replies == [refused_for_role(command)], (command, role, replies)
        addressed = await reply_to(bot, ADMIN, f"/{command}@lysyme_test_bot", chat_id=GROUP_CHAT)
        assert addressed == [pointer]
    # Typed answers in a group are ignored; a button there is refused like its command.
    assert await reply_to(bot, CLINICIAN, "Intensive care", chat_id=GROUP_CHAT) == []
    mark = bot.mark()
    await bot.press(CLINICIAN, "a:1:ward:icu", message_id=5, chat_id=GROUP_CHAT)
    assert bot.texts(GROUP_CHAT, mark) == [pointer]
    assert await answers_snapshot(bot) == before
    # /start is not patient data: answered in the group too.
    (help_text,) = await reply_to(bot, CLINICIAN, "/start", chat_id=GROUP_CHAT)
    assert "/screen" in help_text


@sqlite_only
async def test_commands_for_another_bot_are_not_answered(bot: Harness) -> None:
    for text in ("/start@other_bot", "/screen@other_bot", "/status@OtherBot x"):
        assert await reply_to(bot, CLINICIAN, text, chat_id=GROUP_CHAT) == []
        assert await reply_to(bot, STRANGER, text, chat_id=GROUP_CHAT) == []


# --- forged or stale callback data ----------------------------------------------------------


async def answers_snapshot(bot: Harness) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    def snapshot(conn: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        answers = fetch_all(conn, "SELECT * FROM answers ORDER BY id")
        screenings = fetch_all(
            conn,
            "SELECT id, status, outcome, stage, cursor, proposed, closed_at FROM screenings "
            "ORDER BY id",
        )
        return [tuple(r.values()) for r in answers], [tuple(r.values()) for r in screenings]

    return await bot.ctx.db.read(snapshot)


async def audit_actions(bot: Harness) -> list[str]:
    rows = await bot.ctx.db.read(fetch_all, "SELECT action FROM audit ORDER BY id")
    return [row["action"] for row in rows]


async def press_forged(bot: Harness, user_id: int, data: str, **where: Any) -> list[str]:
    """Press `data`; return the toast and every message sent to the presser's chat."""
    mark = bot.mark()
    await bot.press(user_id, data, **where)
    toasts = bot.calls("answerCallbackQuery", mark)
    assert len(toasts) == 1, (data, toasts)  # the client's spinner always stops
    chat = where.get("chat_id", user_id)
    return [str(toasts[0].params.get("text") or ""), *bot.texts(chat, mark)]


FORGED_BY_OTHER_CLINICIAN = [
    "a:1:ward:icu",  # A's screening, its current question, a valid value
    "a:1:ward:dermatology",
    "b:1:ward",  # back on A's screening
    "x:1:ok",
    "x:1:chg",
    "s:1:ok",
    "s:1:edit",
    "e:1:age",
    "m:1:heart_rate:na",
]
GARBAGE = [
    "",
    ":",
    "a",
    "a:",
    "a:1",
    "a:1:ward",
    "a:1:ward:icu:extra",
    "a:x:ward:icu",
    "a:-1:ward:icu",
    "a:01:ward:icu",
    "a:99999999999999999999:ward:icu",
    "a:2:nonexistent:yes",
    "a:2:index_date:2026-11-31",  # a date button carries a real date
    "a:2:index_date:2026-10-01",  # a date button shows today or yesterday, not this
    "a:2:index_date:2099-01-01",
    "a:2:index_date:２０２６-11-19",
    "a:2:index_date:maybe",  # not an allowed value
    "a:2:age:54",  # not the current question, and typed-only
    "a:2:ward:icu",  # not the current question
    "a:2:index_date:today:today",
    "s:2:ok",  # not at the summary
    "s:2:nonsense",
    "e:2:ward",  # not answered yet
    "x:2:ok",  # no exclusion proposed
    "x:2:maybe",
    "m:2:heart_rate:na",  # not in SCORTEN
    "m:2:nonsense:gl",
    "b:2:nonexistent",
    "zz:1:2:3",
    "a" * 64,
    "a:1:" + "é" * 30,
    "\x00:\x00",
    "🙂:🙂",
]


async def test_forged_callback_data_is_refused_without_effect(bot: Harness) -> None:
    await bot.text(CLINICIAN_2, "/screen")  # HMN-002, screening id 2, on its first question
    before = await answers_snapshot(bot)
    actions_before = await audit_actions(bot)
    for data in [*FORGED_BY_OTHER_CLINICIAN, *GARBAGE]:
        replies = await press_forged(bot, CLINICIAN_2, data)
        assert not any("HMN-001" in reply for reply in replies), (data, replies)
        assert await answers_snapshot(bot) == before, data
    # Another user's button: the forger's id with the first clinician's chat.
    for data in ("a:1:ward:icu", "s:1:ok", "b:1:ward"):
        await press_forged(bot, CLINICIAN_2, data, chat_id=CLINICIAN)
        await press_forged(bot, COORDINATOR, data, chat_id=CLINICIAN)
        await press_forged(bot, STRANGER, data, chat_id=CLINICIAN)
        await press_forged(bot, STRANGER, data)
    assert await answers_snapshot(bot) == before
    assert await audit_actions(bot) == actions_before
    # The owner's genuine button still works.
    await bot.tap(CLINICIAN, "Intensive care")
    assert "body surface area" in bot.last_text(CLINICIAN)


async def test_forged_confirmation_of_another_clinicians_exclusion_is_refused(
    bot: Harness,
) -> None:
    await bot.tap(CLINICIAN, "Other")  # ward: other excludes → confirmation asked
    assert "excludes the patient" in bot.last_text(CLINICIAN)
    await bot.text(CLINICIAN_2, "/screen")
    before = await answers_snapshot(bot)
    for data in ("x:1:ok", "x:1:chg"):
        await press_forged(bot, CLINICIAN_2, data)
    assert await answers_snapshot(bot) == before
    await bot.tap(CLINICIAN, "Confirm exclusion")
    assert "not eligible" in bot.last_text(CLINICIAN)


async def test_a_stale_button_of_ones_own_screening_is_refused(bot: Harness) -> None:
    before = await answers_snapshot(bot)
    replies = await press_forged(bot, CLINICIAN, "a:1:admission_date:today")
    assert replies[0] == t("en", "screen.stale")
    assert await answers_snapshot(bot) == before


async def test_a_removed_user_loses_access_at_once(bot: Harness) -> None:
    prompt = bot.prompt_message_id(CLINICIAN)
    assert "removed" in (await reply_to(bot, ADMIN, f"/removeuser {CLINICIAN}"))[0]
    before = await answers_snapshot(bot)
    refusal = t("en", "access.unknown", user_id=CLINICIAN)
    assert await reply_to(bot, CLINICIAN, "/screen") == [refusal]
    assert await reply_to(bot, CLINICIAN, "/resume HMN-001") == [refusal]
    assert await reply_to(bot, CLINICIAN, "Intensive care") == [refusal]
    replies = await press_forged(bot, CLINICIAN, "a:1:ward:icu", message_id=prompt)
    assert refusal in replies
    assert await answers_snapshot(bot) == before
    # Added back: the open screening is continued through /resume, not through old buttons.
    await bot.add_user(CLINICIAN, "clinician")
    await press_forged(bot, CLINICIAN, "a:1:ward:icu", message_id=prompt)
    assert await answers_snapshot(bot) == before
    resumed = await reply_to(bot, CLINICIAN, "/resume HMN-001")
    assert "Ward" in resumed[-1]
    await bot.tap(CLINICIAN, "Intensive care")
    assert "body surface area" in bot.last_text(CLINICIAN)


async def test_a_removed_admin_loses_admin_commands_at_once(bot: Harness) -> None:
    await bot.add_user(CLINICIAN_2, "admin")
    assert "user(s)" in (await reply_to(bot, CLINICIAN_2, "/users"))[0]
    await reply_to(bot, ADMIN, f"/removeuser {CLINICIAN_2}")
    refusal = t("en", "access.unknown", user_id=CLINICIAN_2)
    assert await reply_to(bot, CLINICIAN_2, "/users") == [refusal]
    assert await reply_to(bot, CLINICIAN_2, f"/adduser {CLINICIAN_2} admin") == [refusal]
