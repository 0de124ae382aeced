"""Thousands of random updates through the REAL Application (in-process; the network replaced
by a `BaseRequest` that answers like Telegram and refuses what Telegram refuses).

Texts (any Unicode, empty, 5,000 characters, answers that are almost right: 31/02, 1e9, NaN,
-0…), every command of `COMMAND_ROLES` with missing, extra and garbage arguments, callback
data (real buttons, other screenings', other users', garbage, 64 bytes), stickers, photos,
edited messages, channel posts, group chats, duplicate deliveries and a clock that jumps; from
listed users (admin, clinicians, coordinator, investigator) and unlisted ones. Some users
mostly follow the buttons, so screenings reach the summary, the exclusion confirmation and
SCORTEN.

Then: no exception escaped (error handler, `handler failed` logs, replies Telegram would have
refused), the database is consistent (integrity, foreign keys, cursors, every stored answer
decodes, every screening answer has its audit row) and the audit chain verifies.

`LYSYME_FUZZ_UPDATES` (500 by default, for the edit–test loop; 3,000 in CI: .ci/run) and `LYSYME_FUZZ_SEED` choose the run.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import random
import re
import sqlite3
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ContextTypes

from bot.common import COMMAND_ROLES
from conversations.answers import from_json
from conversations.protocol import BY_ID, QUESTION_IDS
from conversations.scorten import MEASURE_BY_ID, MEASURE_IDS
from storage.audit import verify_chain
from tests.bot.fake_request import (
    ADMIN,
    BOT_ID,
    CLINICIAN,
    CLINICIAN_2,
    COORDINATOR,
    GROUP_CHAT,
    STRANGER,
    TEAM_CHAT,
    Harness,
)
from tests.conftest import day, no_such_day

UPDATES = int(os.environ.get("LYSYME_FUZZ_UPDATES", "500"))
SEED = int(os.environ.get("LYSYME_FUZZ_SEED", "20261121"))
_QUERY_REFUSED = re.compile(r"reply failed for update (\d+): Query is too old")
INVESTIGATOR = 4004  # clinician and coordinator
LISTED = [ADMIN, CLINICIAN, CLINICIAN_2, COORDINATOR, INVESTIGATOR]
DRIVERS = [CLINICIAN, CLINICIAN_2, INVESTIGATOR]  # mostly follow the buttons
UNLISTED = [STRANGER, 5005, 0, 2**40]

ANSWER_TEXTS = [
    # dates, right and wrong
    day(-2), day(-1), "21/11", "2026-11-19", "today", "yesterday", "aujourd'hui",
    "hier", no_such_day(), no_such_day("29 February"), "00/00/0000", no_such_day("month 13"), "1/1/1", "99/99/99",
    "2026-02-30", "01/01/1900", "31/12/9999", "19.11.2026", "19-11-2026", "19 / 11 / 2026",
    f"{day(0)} 10:00",
    # numbers, right and wrong
    "54", "18", "17", "75", "76", "0", "120", "121", "-1", "-0", "+54", "1e9", "1E9", "1e-9",
    "NaN", "nan", "inf", "-inf", "Infinity", "∞", "0x10", "1_000", "1,000,000", "54.0", "54,5",
    "35 %", "35%", "9.99", "10", "100", "100.0001", "101", "30", "250", "251", "72,5 kg",
    "０５４", "٥٤", "५४", "５４.５", "1/2", "½", "54 ans", "  54  ", "5" * 400,
    # words
    "yes", "no", "oui", "non", "Yes", "NON", "male", "female", "homme", "femme", "F", "M",
    "icu", "réa", "réanimation", "dermatologie", "autre", "other", "pending", "en attente",
    "obtained", "obtenu", "refused", "refusé", "patient", "support_person", "not_tested",
    "not available", "na", "g/L", "mmol/L", "",
]  # fmt: skip
ARGUMENTS = [
    "HMN-001", "HMN-002", "HMN-003", "hmn-1", "HMN-0", "HMN-1000", "HMN-", "XYZ-001",
    "HMN-001 HMN-002", "1", "-1", "0", "99999999999999999999999", "fr", "en", "de", "FR",
    "clinician", "coordinator", "admin", "root", "age", "weight_kg", "consent", "scorten:urea",
    "d0_window", "54", "1e9", "NaN", "-0", no_such_day(), f"{day(0)} 25:61", f"{day(0)} 10:00",
    "today", "because", "reason with spaces", "'; DROP TABLE audit; --", "<b>x</b>", "&amp;",
    "%s %d {0} {number}", "../../etc/passwd", "\u202eevil", "🙂", "a" * 300,
]  # fmt: skip
CALLBACK_PREFIXES = ["a", "b", "x", "s", "e", "m", "zz", "", "A", "a ", "d", "w", "u", "f"]
VALUES = [
    "yes", "no", "today", "yesterday", "icu", "dermatology", "other", "male", "female",
    "pending", "obtained", "refused", "patient", "support_person", "not_tested", "ok", "chg",
    "edit", "na", "gl", "mm", "54", "", "maybe", "1e9", "NaN",
]  # fmt: skip
RANGES = [
    (0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
    (0x900, 0x97F), (0x2000, 0x206F), (0x3040, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAC7F),
    (0xFE00, 0xFE0F), (0xFF00, 0xFFEF), (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF),
    (0x0, 0x1F), (0xE000, 0xE0FF), (0x10000, 0x1007F), (0xE0000, 0xE007F),
]  # fmt: skip


class Fuzzer:
    def __init__(self, bot: Harness, rng: random.Random) -> None:
        self.bot = bot
        self.rng = rng
        self.kinds: collections.Counter[str] = collections.Counter()
        self.fed: list[dict[str, Any]] = []
        self.processed = 0  # updates given to the Application, re-deliveries included
        self.duplicated: set[int] = set()  # update ids delivered twice
        self.duplicated_queries: set[str] = set()  # their callback query ids

    def expected(self, record: logging.LogRecord) -> bool:
        """Telegram refusing to answer a re-delivered query twice: handled, not a failure."""
        found = _QUERY_REFUSED.match(record.getMessage())
        return (
            record.levelno == logging.WARNING
            and found is not None
            and int(found.group(1)) in self.duplicated
        )

    # --- building blocks --------------------------------------------------------------------

    def unicode(self, length: int) -> str:
        rng = self.rng
        chars = []
        for _ in range(length):
            low, high = rng.choice(RANGES)
            chars.append(chr(rng.randint(low, high)))
        return "".join(chars)

    def any_text(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return rng.choice(ANSWER_TEXTS)
        if roll < 0.6:
            return self.unicode(rng.randint(1, 40))
        if roll < 0.68:
            return rng.choice(["", " ", "\n", "\u200b", "\ufeff", "\t\t", "\u2028"])
        if roll < 0.74:
            return self.unicode(rng.choice([1000, 4096, 4097, 5000]))
        if roll < 0.8:
            return rng.choice(["<b>", "</i>", "&", "&lt;", "<a href='x'>", "<script>", "%s", "{}"])
        return rng.choice(ANSWER_TEXTS) + rng.choice(["", " ", "!", "?", "\n", " ✓"]) * 2

    def command(self) -> str:
        rng = self.rng
        name = rng.choice([*COMMAND_ROLES, *COMMAND_ROLES, "unknown", "START", "Screen", ""])
        if rng.random() < 0.1:
            name += rng.choice(["@lysyme_test_bot", "@other_bot", "@", "@LYSYME_TEST_BOT"])
        count = rng.choice([0, 0, 1, 1, 2, 3, 5])
        args = [rng.choice(ARGUMENTS) if rng.random() < 0.8 else self.unicode(rng.randint(1, 20))
                for _ in range(count)]  # fmt: skip
        if name in ("adduser", "removeuser") and rng.random() < 0.5:
            args = [str(rng.choice([*LISTED, *UNLISTED]))] + (
                [rng.choice(["clinician", "coordinator", "admin", "x"])]
                if name == "adduser"
                else []
            )
        return " ".join(["/" + name, *args])

    def callback_data(self, user_id: int) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:  # a real button of some chat: own, or another user's
            owner = user_id if rng.random() < 0.6 else rng.choice(LISTED)
            buttons = self.bot.buttons(owner)
            if buttons:
                return rng.choice(buttons)[1]
        if roll < 0.7:  # valid-looking, for any screening and any question
            prefix = rng.choice(["a", "a", "b", "x", "s", "e", "m"])
            sid = str(rng.randint(0, 8))
            third = rng.choice([*QUESTION_IDS, *MEASURE_IDS, "ok", "edit", "chg", "nope"])
            parts = [prefix, sid, third, rng.choice(VALUES)][: rng.choice([2, 3, 4, 4, 5])]
            return ":".join(parts)
        if roll < 0.85:
            data = ":".join(
                rng.choice([*CALLBACK_PREFIXES, self.unicode(3)]) for _ in range(rng.randint(1, 6))
            )
            return data.encode()[:64].decode(errors="ignore")
        size = rng.choice([1, 63, 64])
        return self.unicode(size).encode()[:64].decode(errors="ignore") or "z"

    def chat_for(self, user_id: int) -> int:
        roll = self.rng.random()
        if roll < 0.85:
            return user_id if user_id > 0 else STRANGER
        return self.rng.choice([GROUP_CHAT, TEAM_CHAT, -1009999])

    # --- one update -------------------------------------------------------------------------

    def user(self) -> int:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            return rng.choice(DRIVERS)
        if roll < 0.85:
            return rng.choice(LISTED)
        return rng.choice(UNLISTED)

    def sensible(self, user_id: int) -> tuple[str, str] | None:
        """("tap", data) or ("type", text): the answer that keeps a screening going."""
        rng = self.rng
        prompt = self.bot.prompt_text(user_id).lower()
        buttons = self.bot.buttons(user_id)

        def tap(*labels: str) -> tuple[str, str] | None:
            for label in labels:
                for text, data in buttons:
                    if label.lower() in text.lower():
                        return "tap", data
            return None

        last = self.bot.last_text(user_id).lower()
        if "no screening in progress" in last or "partial scorten" in last or "scorten:" in last:
            return "type", "/screen"
        if "excludes the patient" in prompt:
            return tap("Change") if rng.random() < 0.8 else tap("Confirm exclusion")
        if "summary" in prompt:
            return tap("Confirm") if rng.random() < 0.8 else tap("Change an answer")
        if "scorten" in prompt:
            if rng.random() < 0.3:
                return tap("Not available", "g/L", "mmol/L")
            return "type", rng.choice(["131", "95", "7,5", "0,4", "22", "12", "abc", "1e9"])
        for label, how in SENSIBLE:
            if label.lower() in prompt:
                kind, _, value = how.partition(":")
                if kind == "tap":
                    return tap(rng.choice(value.split("|")))
                return "type", rng.choice(value.split("|"))
        return (
            ("type", rng.choice(["/screen", "/language en", "/resume HMN-001"]))
            if (rng.random() < 0.3)
            else None
        )

    def drive(self, user_id: int) -> dict[str, Any]:
        """What a clinician following the conversation would send next (mostly)."""
        rng = self.rng
        buttons = self.bot.buttons(user_id)
        if rng.random() < 0.85 and (move := self.sensible(user_id)) is not None:
            self.kinds["drive_sensible"] += 1
            kind, value = move
            if kind == "tap":
                message_id = self.bot.last_message_id(user_id) or 1
                return self.callback(user_id, value, message_id, user_id)
            return {"message": self.message(user_id, user_id, text=value)}
        if buttons and rng.random() < 0.7:
            label, data = rng.choice(buttons)
            if "Back" in label and rng.random() < 0.7:
                label, data = rng.choice(buttons)
            self.kinds["drive_tap"] += 1
            return self.callback(user_id, data, self.bot.last_message_id(user_id) or 1, user_id)
        if rng.random() < 0.15:
            self.kinds["drive_command"] += 1
            text = rng.choice(["/screen", "/screen", "/resume HMN-001", "/back", "/cancel",
                               "/status", "/help", "/resume HMN-002"])  # fmt: skip
        else:
            self.kinds["drive_text"] += 1
            text = rng.choice(ANSWER_TEXTS)
        return {"message": self.message(user_id, user_id, text=text)}

    def message(self, user_id: int, chat_id: int, **content: Any) -> dict[str, Any]:
        message = self.bot.message_dict(user_id, chat_id, **content)
        text = content.get("text")
        if isinstance(text, str) and text.startswith("/"):
            message["entities"] = self.bot.command_entities(text)
        elif isinstance(text, str) and text and self.rng.random() < 0.05:
            # A forged client: an entity that is not where Telegram would put one.
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        return message

    def callback(
        self, user_id: int, data: str | None, message_id: int, chat_id: int
    ) -> dict[str, Any]:
        query: dict[str, Any] = {
            "id": str(self.rng.getrandbits(48)),
            "from": self.bot.user(user_id, self.rng.choice(["en", "fr", "de", ""])),
            "chat_instance": str(chat_id),
        }
        if data is not None:
            query["data"] = data
        else:
            query["game_short_name"] = "nope"
        if self.rng.random() < 0.97:
            query["message"] = {
                "message_id": message_id, "date": int(self.bot.clock().timestamp()),
                "chat": self.bot.chat(chat_id), "text": "…",
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "LYSYME"},
            }  # fmt: skip
        else:
            query["inline_message_id"] = "inline-1"
        return {"callback_query": query}

    def random_update(self) -> dict[str, Any]:
        rng = self.rng
        user_id = self.user()
        if user_id in DRIVERS and rng.random() < 0.6:
            return self.drive(user_id)
        chat_id = self.chat_for(user_id)
        roll = rng.random()
        if roll < 0.3:
            self.kinds["text"] += 1
            return {"message": self.message(user_id, chat_id, text=self.any_text())}
        if roll < 0.55:
            self.kinds["command"] += 1
            return {"message": self.message(user_id, chat_id, text=self.command())}
        if roll < 0.75:
            self.kinds["callback"] += 1
            data = self.callback_data(user_id) if rng.random() < 0.98 else None
            message_id = rng.choice([self.bot.last_message_id(chat_id) or 1, 1, 999999])
            return self.callback(user_id, data, message_id, chat_id)
        if roll < 0.85:
            self.kinds["edited"] += 1
            text = self.command() if rng.random() < 0.3 else self.any_text()
            edited = self.message(user_id, chat_id, text=text)
            edited["edit_date"] = edited["date"] + 5
            return {"edited_message": edited}
        if roll < 0.95:
            self.kinds["media"] += 1
            return {"message": self.message(user_id, chat_id, **self.media())}
        self.kinds["exotic"] += 1
        return self.exotic(user_id)

    def media(self) -> dict[str, Any]:
        rng = self.rng
        file = {"file_id": "f", "file_unique_id": "u"}
        choice = rng.choice(["sticker", "photo", "document", "voice", "location", "contact",
                             "new_chat_members", "caption_command", "empty"])  # fmt: skip
        if choice == "sticker":
            return {"sticker": {**file, "type": "regular", "width": 512, "height": 512,
                                "is_animated": False, "is_video": False, "emoji": "🙂"}}  # fmt: skip
        if choice == "photo":
            return {"photo": [{**file, "width": 90, "height": 90}], "caption": self.any_text()}
        if choice == "document":
            return {"document": {**file, "file_name": "patient.pdf"}, "caption": "54"}
        if choice == "voice":
            return {"voice": {**file, "duration": 3}}
        if choice == "location":
            return {"location": {"latitude": 48.79, "longitude": 2.45}}
        if choice == "contact":
            return {"contact": {"phone_number": "+33100000000", "first_name": "X"}}
        if choice == "new_chat_members":
            return {"new_chat_members": [{"id": 6006, "is_bot": False, "first_name": "N"}]}
        if choice == "caption_command":
            return {"photo": [{**file, "width": 1, "height": 1}], "caption": "/screen",
                    "caption_entities": [{"type": "bot_command", "offset": 0, "length": 7}]}  # fmt: skip
        return {}

    def exotic(self, user_id: int) -> dict[str, Any]:
        rng = self.rng
        kind = rng.choice(["channel_post", "inline_query", "edited_channel_post", "no_user"])
        if kind in ("channel_post", "edited_channel_post"):
            post = {"message_id": rng.randint(1, 10**6), "date": int(self.bot.clock().timestamp()),
                    "chat": {"id": -1001234, "type": "channel", "title": "C"},
                    "text": rng.choice(["/screen", "/start", "54", "/export"])}  # fmt: skip
            return {kind: post}
        if kind == "inline_query":
            return {"inline_query": {"id": "1", "from": self.bot.user(user_id), "query": "HMN",
                                     "offset": ""}}  # fmt: skip
        message = self.bot.message_dict(user_id, user_id, text="/screen")
        message.pop("from")
        message["sender_chat"] = {"id": -1001234, "type": "channel", "title": "C"}
        message["chat"] = self.bot.chat(GROUP_CHAT)
        message["entities"] = self.bot.command_entities("/screen")
        return {"message": message}

    # --- the run ----------------------------------------------------------------------------

    def sweep(self) -> list[dict[str, Any]]:
        """Every command of COMMAND_ROLES from every kind of user, then with missing, extra
        and garbage arguments (users in turn), in private chats and in a group."""
        users = [*LISTED, STRANGER]
        argument_shapes = [
            "", "HMN-001", "HMN-999 extra args that nobody expects 1 2 3", "1e9 NaN -0",
            f"{no_such_day()} 25:61", "'; DROP TABLE answers; --", self.unicode(12), "x" * 5000,
        ]  # fmt: skip
        updates = []
        for command in COMMAND_ROLES:
            for user_id in users:
                updates.append({"message": self.message(user_id, user_id, text=f"/{command}")})
            for position, shape in enumerate(argument_shapes):
                user_id = users[position % len(users)]
                chat_id = GROUP_CHAT if position == 1 else user_id
                text = f"/{command} {shape}".rstrip()
                updates.append({"message": self.message(user_id, chat_id, text=text)})
        self.kinds["sweep"] = len(updates)
        return updates

    async def feed(self, data: dict[str, Any]) -> None:
        update_id = await self.bot.feed(data)
        self.fed.append({"update_id": update_id, **data})
        self.processed += 1

    async def step(self) -> None:
        rng = self.rng
        if rng.random() < 0.04:  # time passes: minutes, hours, sometimes days
            self.bot.clock.advance(minutes=rng.choice([1, 7, 60, 60 * 7, 60 * 26, 60 * 24 * 4]))
        if self.fed and rng.random() < 0.02:  # Telegram delivers some updates twice
            self.processed += 1
            self.kinds["duplicate"] += 1
            update = rng.choice(self.fed[-20:])
            self.duplicated.add(update["update_id"])
            if "callback_query" in update:
                self.duplicated_queries.add(update["callback_query"]["id"])
            await self.bot.app.process_update(Update.de_json(update, self.bot.app.bot))
            return
        if rng.random() < 0.005:  # the admin re-lists whoever a random /removeuser removed
            for user_id, role in ROLES.items():
                await self.feed(
                    {"message": self.message(ADMIN, ADMIN, text=f"/adduser {user_id} {role}")}
                )
            return
        await self.feed(self.random_update())


#: (prompt fragment, how to answer: "tap:<label>|<label>…" or "type:<text>|<text>…"); mostly
#: eligible answers, some pending, a few excluding.
SENSIBLE = [
    ("Date of first symptoms", f"type:{day(-2)}|{day(-1)}|today|21/11|{no_such_day()}"),
    ("Date of admission", "tap:Yesterday|Today|Yesterday"),
    ("Confirmed SJS", "tap:Yes|Yes|Yes|Yes|Yes|Yes|No"),
    ("Age (years)", "type:54|40|18|75|54|40|33|62|76|1e9|-0"),
    ("Ward", "tap:Intensive care|Dermatology|Intensive care|Dermatology|Other"),
    ("body surface area", "type:35 %|12|100|35,5|8|NaN"),
    ("Sex", "tap:Male|Female"),
    ("Pregnant", "tap:No|No|Pending"),
    ("Malignancy", "tap:No"),
    ("HIV", "tap:No|No|Pending"),
    ("hepatitis", "tap:No|No|Pending"),
    ("SARS-CoV-2", "tap:No|Not tested|Pending"),
    ("heart failure", "tap:No"),
    ("epilepsy", "tap:No"),
    ("bone-marrow", "tap:No"),
    ("interventional drug study", "tap:No"),
    ("Deprived of liberty", "tap:No"),
    ("hampering follow-up", "tap:No"),
    ("tutorship", "tap:No"),
    ("psychiatric care", "tap:No"),
    ("social security", "tap:Yes"),
    ("Written consent", "tap:Obtained|Obtained|Pending"),
    ("Who signed", "tap:The patient|support"),
    ("Weight (kg)", "type:68|72,5|30|250|68|81|29|1e9"),
]

ROLES = {
    CLINICIAN: "clinician",
    CLINICIAN_2: "clinician",
    COORDINATOR: "coordinator",
    INVESTIGATOR: "clinician coordinator",
}


def check_database(path: Path) -> dict[str, int]:
    """Structural consistency, read with a plain sqlite3 connection after the bot closed."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for _sid, number, stage, cursor, status in conn.execute(
            "SELECT id, number, stage, cursor, status FROM screenings"
        ):
            assert stage in ("question", "confirm_exclusion", "summary", "scorten", "done"), stage
            if stage == "scorten" and cursor is not None:
                measure, _, unit = cursor.partition("@")
                assert measure in MEASURE_BY_ID, (number, cursor)
                units = ["", *(u.value for u in MEASURE_BY_ID[measure].units)]  # "": default
                assert unit in units, (number, cursor)
            else:
                assert cursor is None or cursor in BY_ID, (number, stage, cursor)
            if stage == "question":
                assert cursor in BY_ID and status == "in_screening", (number, cursor, status)
        for question_id, value, source in conn.execute(
            "SELECT question_id, value, source FROM answers"
        ):
            if value is None:
                assert source == "not_applicable" or question_id.startswith("scorten:"), source
                continue
            if question_id.startswith("scorten:"):
                assert question_id.removeprefix("scorten:") in MEASURE_BY_ID, question_id
                decoded = json.loads(value)
                assert decoded is None or isinstance(decoded, int | float), value
            else:
                assert question_id in BY_ID, question_id
                from_json(question_id, value)  # raises if it does not decode
        # Never a half-written answer: each screening answer has its audit row, and back.
        answered = collections.Counter(
            conn.execute(
                """SELECT s.number, a.question_id, a.value FROM answers a
                   JOIN screenings s ON s.id = a.screening_id WHERE a.source = 'screening'"""
            ).fetchall()
        )
        audited = collections.Counter(
            conn.execute(
                "SELECT screening, field, new_value FROM audit WHERE action = 'answer'"
            ).fetchall()
        )
        assert answered == audited
        counts = {
            "screenings": conn.execute("SELECT count(*) FROM screenings").fetchone()[0],
            "answers": conn.execute("SELECT count(*) FROM answers").fetchone()[0],
            "audit rows": conn.execute("SELECT count(*) FROM audit").fetchone()[0],
        }
        for status, count in conn.execute(
            "SELECT status || '/' || coalesce(outcome, '-') || '/' || stage, count(*) "
            "FROM screenings GROUP BY 1"
        ):
            counts[status] = count
        return counts
    finally:
        conn.close()


FAILURE_LOGS: tuple[Callable[[logging.LogRecord], bool], ...] = (
    lambda r: r.levelno >= logging.ERROR,
    lambda r: r.name == "lysyme.handlers" and r.levelno >= logging.WARNING,
    lambda r: "handler failed" in r.getMessage(),
)


async def test_random_updates_never_crash_and_leave_a_consistent_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(SEED)
    errors: list[BaseException] = []
    db_path = tmp_path / "fuzz.sqlite3"

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            errors.append(context.error)

    async with Harness.started(db_path) as bot:
        bot.app.add_error_handler(on_error)
        for user_id, role in ROLES.items():
            await bot.text(ADMIN, f"/adduser {user_id} {role}")
        fuzzer = Fuzzer(bot, rng)
        for update in fuzzer.sweep():
            await fuzzer.feed(update)
        while fuzzer.processed < UPDATES and not errors:
            await fuzzer.step()
        verified = await bot.ctx.db.read(verify_chain)
        rejected = [
            c
            for c in bot.request.rejected
            if not (
                c.method == "answerCallbackQuery"
                and c.params.get("callback_query_id") in fuzzer.duplicated_queries
            )
        ]
        api_calls = len(bot.request.calls)

    failures = [
        r
        for r in caplog.records
        if any(test(r) for test in FAILURE_LOGS) and not fuzzer.expected(r)
    ]
    context = f"seed {SEED}, {fuzzer.processed} updates; replay with LYSYME_FUZZ_SEED={SEED}"
    assert not errors, (context, "".join(traceback.format_exception(errors[0])))
    assert not failures, (context, [(r.name, r.getMessage()[:300]) for r in failures[:5]])
    assert not rejected, (context, [(c.method, c.error, str(c.params)[:300]) for c in rejected[:5]])
    assert verified.ok, (context, verified.problem)
    counts = check_database(db_path)
    # The run reached deep into the conversation, or it tested little (10 screenings and 100
    # answers for CI's 3,000 updates, in proportion for fewer).
    assert counts["screenings"] >= max(2, UPDATES // 300), counts
    assert counts["answers"] >= UPDATES // 30, counts
    assert any(key.split("/")[1] != "-" for key in counts if "/" in key), counts  # outcomes
    print(
        f"\nfuzz: {fuzzer.processed} updates (seed {SEED}) → {api_calls} Bot API calls, "
        f"no exception, database consistent, audit chain intact ({verified.rows_checked} rows)"
        f"\n  kinds: {dict(fuzzer.kinds)}\n  database: {counts}"
    )
