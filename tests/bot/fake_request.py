"""The real `Application`, in-process, with the network replaced by a `BaseRequest` subclass
(python-telegram-bot's own test technique): every Bot API call is answered at once with
plausible JSON and recorded; updates are built with `Update.de_json` and fed to
`application.process_update`. No HTTP, no sleeps, time from an injected clock.

    async with Harness.started(tmp_path) as bot:
        await bot.text(CLINICIAN, "/screen")
        assert "HMN-001" in bot.last_text(CLINICIAN)
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.app import build_application
from bot.settings import Settings
from tests.conftest import (  # noqa: F401 - ELIGIBLE_MALE, FakeClock, T0 re-exported
    ADMIN,
    ELIGIBLE_MALE,
    T0,
    TEAM_CHAT,
    FakeClock,
    make_settings,
)
from tests.e2e.fake_telegram import QUERY_INVALID, _ApiError, _format_text

TOKEN = "424242:FAKE-token-for-tests-AAAAAAAAAAAAAAAA"
BOT_ID = 424242
BOT_USERNAME = "lysyme_test_bot"

CLINICIAN = 2002
CLINICIAN_2 = 2003
COORDINATOR = 3003
STRANGER = 9009
GROUP_CHAT = -100777

_SENT = frozenset({"sendMessage", "editMessageText", "sendDocument", "sendPhoto"})


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    result: Any = None
    error: str | None = None  # the 400 description when the fake refused the call


@dataclass
class _Fault:
    method: str
    error_code: int
    description: str
    parameters: dict[str, Any] | None
    count: int
    chat_id: int | None


class FakeRequest(BaseRequest):
    """Answers every Bot API method instantly; remembers each call."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self._ids = itertools.count(1)
        self._answered: set[str] = set()
        self.by_chat: dict[str, list[ApiCall]] = {}  # accepted send/edit calls per chat id
        self.faults: list[_Fault] = []

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        *,
        count: int = 1,
        retry_after: int = 1,
        chat_id: int | None = None,
        description: str | None = None,
    ) -> None:
        """The next `count` calls of `method` (to `chat_id`, if given) fail as Telegram would
        fail them: 429 with `retry_after` (PTB raises RetryAfter), 5xx (NetworkError)…"""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if error_code == 429
                else "Bad Gateway"
            )
        parameters = {"retry_after": retry_after} if error_code == 429 else None
        self.faults.append(_Fault(method, error_code, description, parameters, count, chat_id))

    def _fault(self, name: str, params: dict[str, Any]) -> _ApiError | None:
        for fault in self.faults:
            if fault.method != name:
                continue
            if fault.chat_id is not None and str(fault.chat_id) != str(params.get("chat_id")):
                continue
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return _ApiError(fault.error_code, fault.description, fault.parameters)
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _check(self, name: str, params: dict[str, Any]) -> None:
        """Refuse what Telegram refuses (400), so a malformed reply fails here as it would
        there: bad HTML, too long, empty, oversized button data, a query answered twice."""
        if name in ("sendMessage", "editMessageText"):
            plain, _ = _format_text(params.get("text"), params.get("parse_mode"),
                                    params.get("entities"), limit=4096,
                                    too_long="Bad Request: message is too long")  # fmt: skip
            if not plain:
                raise _ApiError(400, "Bad Request: message text is empty")
        if name in ("sendDocument", "sendPhoto") and params.get("caption"):
            _format_text(params.get("caption"), params.get("parse_mode"), None, limit=1024,
                         too_long="Bad Request: message caption is too long")  # fmt: skip
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode()) <= 64:
                        raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                    if not str(button.get("text", "")).strip():
                        raise _ApiError(400, "Bad Request: text buttons are unallowed")
        if name == "answerCallbackQuery":
            query_id = str(params.get("callback_query_id"))
            if query_id in self._answered:
                raise _ApiError(400, f"Bad Request: {QUERY_INVALID.removeprefix('Bad Request: ')}")
            if len(str(params.get("text") or "")) > 200:
                raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
            self._answered.add(query_id)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        fault = self._fault(name, params)
        if fault is not None:
            self.calls.append(ApiCall(name, params, None, fault.description))
            return fault.error_code, json.dumps(fault.payload()).encode()
        try:
            self._check(name, params)
        except _ApiError as error:
            self.calls.append(ApiCall(name, params, None, error.description))
            return error.error_code, json.dumps(error.payload()).encode()
        result = self._result(name, params)
        call = ApiCall(name, params, result)
        self.calls.append(call)
        if name in _SENT:
            self.by_chat.setdefault(str(params.get("chat_id")), []).append(call)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    @property
    def rejected(self) -> list[ApiCall]:
        """Calls Telegram would have refused: each one is a reply a user never got."""
        return [c for c in self.calls if c.error is not None]

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params.get("chat_id", 0) or 0)
        return {
            "message_id": int(params.get("message_id") or next(self._ids)),
            "date": int(T0.timestamp()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "LYSYME"},
            **content,
        }

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "LYSYME",
                    "username": BOT_USERNAME, "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False}  # fmt: skip
        if name in ("sendMessage", "editMessageText"):
            content: dict[str, Any] = {"text": str(params.get("text", ""))}
            markup = params.get("reply_markup")
            markup = json.loads(markup) if isinstance(markup, str) else markup
            # As Telegram: a sent message shows only an inline keyboard (a reply keyboard,
            # such as the contact picker, sits under the input field, not in the message).
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                content["reply_markup"] = params["reply_markup"]
            return self._message(params, **content)
        if name == "sendDocument":
            document = {"file_id": "doc", "file_unique_id": "doc", "file_name": "file"}
            return self._message(params, document=document, caption=params.get("caption"))
        if name == "sendPhoto":
            photo = [{"file_id": "ph", "file_unique_id": "ph", "width": 1, "height": 1}]
            return self._message(params, photo=photo, caption=params.get("caption"))
        if name == "getUpdates" or name == "getMyCommands":
            return []
        if name == "getChat":
            chat_id = int(params.get("chat_id", 0) or 0)
            return {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        return True


def settings_for(db_path: Path | str, **extra: Any) -> Settings:
    """The shared test settings, with this harness's token."""
    return make_settings(db_path, **{"TELEGRAM_BOT_TOKEN": TOKEN, **extra})


class Harness:
    """One in-process bot: feed updates, read what it sent."""

    def __init__(self, app: Application, request: FakeRequest, clock: FakeClock) -> None:  # type: ignore[type-arg]
        self.app = app
        self.request = request
        self.clock = clock
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100_000)
        self._query_ids = itertools.count(1)

    @classmethod
    @contextlib.asynccontextmanager
    async def started(
        cls, db_path: Path | str, clock: FakeClock | None = None, **extra: Any
    ) -> AsyncIterator[Harness]:
        clock = clock or FakeClock()
        request = FakeRequest()
        app = build_application(
            settings_for(db_path, **extra), clock=clock, request=request,
            get_updates_request=FakeRequest(),
            paced=False,  # this fake has no Telegram rate limits to respect
        )  # fmt: skip
        await app.initialize()
        await app.post_init(app)  # type: ignore[misc]
        harness = cls(app, request, clock)
        try:
            yield harness
        finally:
            await app.post_shutdown(app)  # type: ignore[misc]
            await app.shutdown()

    @property
    def ctx(self) -> Any:
        return self.app.bot_data["ctx"]

    # --- feeding -------------------------------------------------------------------------

    def mark(self) -> int:
        return len(self.request.calls)

    @staticmethod
    def user(user_id: int, language: str = "en") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": language}

    @staticmethod
    def chat(chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Test"}
        return {"id": chat_id, "type": "supergroup", "title": "LYSYME team"}

    def message_dict(
        self, user_id: int, chat_id: int | None = None, **content: Any
    ) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(self.clock().timestamp()),
            "chat": self.chat(chat_id if chat_id is not None else user_id),
            "from": self.user(user_id),
            **content,
        }

    @staticmethod
    def command_entities(text: str) -> list[dict[str, Any]]:
        if not text.startswith("/"):
            return []
        head = text.split(maxsplit=1)[0] if text.split() else text
        return [{"type": "bot_command", "offset": 0, "length": len(head.encode("utf-16-le")) // 2}]

    async def feed(self, data: dict[str, Any]) -> int:
        """Process one update (dict without update_id); returns the update id."""
        update_id = next(self._update_ids)
        update = Update.de_json({"update_id": update_id, **data}, self.app.bot)
        await self.app.process_update(update)
        return update_id

    async def text(self, user_id: int, text: str, chat_id: int | None = None) -> int:
        message = self.message_dict(user_id, chat_id, text=text)
        entities = self.command_entities(text)
        if entities:
            message["entities"] = entities
        return await self.feed({"message": message})

    async def press(
        self, user_id: int, data: str, message_id: int | None = None, chat_id: int | None = None
    ) -> int:
        chat = chat_id if chat_id is not None else user_id
        if message_id is None:
            message_id = self.last_message_id(chat) or 1
        message = {"message_id": message_id, "date": int(self.clock().timestamp()),
                   "chat": self.chat(chat), "from": {"id": BOT_ID, "is_bot": True,
                                                    "first_name": "LYSYME"}, "text": "…"}  # fmt: skip
        query = {"id": str(next(self._query_ids)), "from": self.user(user_id),
                 "chat_instance": f"ci{chat}", "data": data, "message": message}  # fmt: skip
        return await self.feed({"callback_query": query})

    # --- reading ---------------------------------------------------------------------------

    def calls(self, method: str | None = None, after: int = 0) -> list[ApiCall]:
        return [c for c in self.request.calls[after:] if method is None or c.method == method]

    def sent(self, chat_id: int, after: int = 0) -> list[ApiCall]:
        """Messages sent or edited in a chat (sendMessage, editMessageText, send*)."""
        return [
            c
            for c in self.request.calls[after:]
            if c.method in _SENT and str(c.params.get("chat_id")) == str(chat_id)
        ]

    def texts(self, chat_id: int, after: int = 0) -> list[str]:
        return [str(c.params.get("text") or c.params.get("caption") or "")
                for c in self.sent(chat_id, after)]  # fmt: skip

    def _newest(self, chat_id: int) -> Iterator[ApiCall]:
        """`sent(chat_id)`, newest first, lazily (the fuzz test asks after every update)."""
        yield from reversed(self.request.by_chat.get(str(chat_id), []))

    def last_text(self, chat_id: int) -> str:
        for call in self._newest(chat_id):
            return str(call.params.get("text") or call.params.get("caption") or "")
        return ""

    def last_message_id(self, chat_id: int) -> int | None:
        for call in self._newest(chat_id):
            if call.method == "sendMessage" and isinstance(call.result, dict):
                return int(call.result["message_id"])
        return None

    def _prompt(self, chat_id: int) -> ApiCall | None:
        """The newest message sent with an inline keyboard (the current prompt)."""
        for call in self._newest(chat_id):
            if call.method == "sendMessage" and call.params.get("reply_markup"):
                return call
        return None

    def buttons(self, chat_id: int) -> list[tuple[str, str]]:
        """(label, callback data) of the newest message with an inline keyboard in the chat."""
        for call in self._newest(chat_id):
            markup = call.params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"]
                        for b in row if "callback_data" in b]  # fmt: skip
        return []

    def prompt_text(self, chat_id: int) -> str:
        prompt = self._prompt(chat_id)
        return str(prompt.params.get("text", "")) if prompt else ""

    def prompt_message_id(self, chat_id: int) -> int:
        prompt = self._prompt(chat_id)
        if prompt is None or not isinstance(prompt.result, dict):
            raise AssertionError("no message with buttons")
        return int(prompt.result["message_id"])

    async def tap(self, user_id: int, label: str) -> None:
        """Tap the button labelled `label` on the newest keyboard in the user's chat."""
        buttons = self.buttons(user_id)
        matches = [d for text, d in buttons if text == label] or [
            d for text, d in buttons if label.lower() in text.lower()
        ]
        if matches:
            await self.press(user_id, matches[0], self.prompt_message_id(user_id))
            return
        raise AssertionError(f"no button {label!r} in {buttons}")

    async def add_user(self, user_id: int, role: str) -> None:
        mark = self.mark()
        await self.text(ADMIN, f"/adduser {user_id} {role}")
        assert any(str(user_id) in t for t in self.texts(ADMIN, mark)), self.texts(ADMIN, mark)


async def answer_all(bot: Harness, user_id: int, answers: list[tuple[str, str]]) -> None:
    for label, how in answers:
        assert label.lower() in bot.last_text(user_id).lower(), (label, bot.last_text(user_id))
        kind, _, value = how.partition(":")
        if kind == "tap":
            await bot.tap(user_id, value)
        else:
            await bot.text(user_id, value)
