"""A fake Telegram Bot API HTTP server for end-to-end tests.

The bot under test (python-telegram-bot's real ``Application``/``Bot``, in-process or as a
``lysyme-bot run`` subprocess) is pointed at this server instead of api.telegram.org::

    Bot(token, base_url=tg.base_url)   # requests arrive as POST /bot<token>/<method>

The server runs on tornado (installed with python-telegram-bot[webhooks], whose webhook server
it is): its HTTP/1.1 server handles keep-alive, Content-Length and chunked bodies; ``httpx`` is
used only to POST updates to a bot's webhook.

Two ways to run it
------------------
* **In the test's event loop** (in-process bot, pytest-asyncio)::

      async with FakeTelegram() as tg:
          app = Application.builder().token(tg.token).base_url(tg.base_url).build()
          ...
          mark = tg.mark()
          tg.send_text(42, "/start")
          call = await tg.wait_for_message(42, contains="Bonjour", after_index=mark)

* **In a background thread with its own loop** (bot started as a subprocess)::

      with FakeTelegram() as tg:                      # or tg = FakeTelegram.start_in_thread()
          proc = subprocess.Popen([...], env={..., "TELEGRAM_BASE_URL": tg.base_url})
          tg.send_text(42, "/start")
          tg.run_sync(tg.wait_for_message(42, contains="Bonjour"))   # from a sync test
          # ...or `await tg.wait_for_message(...)` from an async test running in another loop

  All state is guarded by a ``threading.RLock``, so every synchronous method (feeding
  updates, fault injection, inspection) is thread-safe.  The ``async`` waiting helpers run
  in the server's loop; when awaited from a different loop they are bridged transparently
  with ``run_coroutine_threadsafe``.  ``run_sync(coro)`` runs one to completion from a plain
  thread.  (``tg.stop_thread()`` stops a server started by ``start_in_thread``.)

What it emulates
----------------
Only the Bot API methods the bot uses (DESIGN.md), with realistic JSON: getMe, getUpdates
(long polling with ``offset`` confirmation, ``timeout``, ``limit``, 409 when a webhook is set or
a newer getUpdates supersedes an older one), deleteWebhook/setWebhook/getWebhookInfo
(``drop_pending_updates`` honoured), sendMessage, editMessageText/ReplyMarkup (incl. the
"message is not modified" 400), answerCallbackQuery (unknown or already-answered query -> 400),
deleteMessage, sendDocument/sendPhoto (multipart; bytes kept; photos must be PNG),
sendChatAction, set/get/deleteMyCommands (per scope and language), setChatMenuButton, getChat,
getChatMember.  Unknown method -> 404, wrong token -> 401.  Method names are case-insensitive.
Text is checked like Telegram checks what the bot sends: ``parse_mode`` HTML is parsed into
plain text + entities (malformed markup -> 400 "can't parse entities"; Markdown is not
emulated), text is trimmed, length limits (4096 / 1024) are enforced, inline keyboards are
validated (callback_data 1-64 bytes); ``editMessageText`` without ``reply_markup`` removes the
inline keyboard, as on Telegram.  Message ids come from one increasing counter.

Recording and waiting
---------------------
Every request on an API path is recorded as a :class:`Call` (``method`` is the canonical
camelCase name, ``params`` has JSON values decoded, ``files`` maps part name to
``(filename, bytes)``).  Use :meth:`FakeTelegram.mark` before acting and pass
``after_index=mark`` to the ``wait_for_*`` helpers so that earlier calls do not match.  The
helpers wake up on an event set whenever a call is recorded (no polling loops) and raise
``AssertionError`` listing the recent calls on timeout.

Fault injection: :meth:`FakeTelegram.fail_next` (429 with ``retry_after``, 400 chat not found,
403 blocked, ... optionally for one ``chat_id`` only, ``count=None`` for "until cleared").
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import itertools
import json
import mimetypes
import re
import struct
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx
import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web

__all__ = [
    "BOT_BLOCKED",
    "BOT_ID",
    "BOT_USERNAME",
    "CHAT_NOT_FOUND",
    "DEFAULT_TOKEN",
    "NOT_MODIFIED",
    "REGISTERED_SECRET",
    "Call",
    "FakeTelegram",
    "StoredFile",
    "WebhookConfig",
]

T = TypeVar("T")
JSONDict = dict[str, Any]

DEFAULT_TOKEN: Final = "123456:TEST"
BOT_ID: Final = 1000
BOT_USERNAME: Final = "lysyme_test_bot"
BOT_FIRST_NAME: Final = "LYSYME test bot"

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
CHAT_NOT_FOUND: Final = "Bad Request: chat not found"
BOT_BLOCKED: Final = "Forbidden: bot was blocked by the user"
QUERY_INVALID: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
WEBHOOK_CONFLICT: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

_SEND_METHODS: Final = ("sendMessage", "sendDocument", "sendPhoto")
_EDIT_METHODS: Final = ("editMessageText", "editMessageReplyMarkup")
_CHAT_ACTIONS: Final = frozenset({"typing", "upload_photo", "upload_document"})
_BUTTON_ACTIONS: Final = frozenset({"url", "callback_data"})
# Form values of these parameters are free text / identifiers and are never JSON-decoded
# (so that text="123" stays a string); everything else is decoded when it is valid JSON.
_STRING_PARAMS: Final = frozenset(
    {"text", "caption", "parse_mode", "callback_query_id", "url", "secret_token", "ip_address",
     "inline_message_id", "language_code", "action", "document", "photo"}
)  # fmt: skip
_COMMAND_RE: Final = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND_ENTITY_RE: Final = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_PNG: Final = b"\x89PNG\r\n\x1a\n"


class _Registered(enum.Enum):
    SECRET = "registered"


#: Default of ``post_update_to_webhook(secret_token=...)``: use the secret given to setWebhook.
REGISTERED_SECRET: Final = _Registered.SECRET


# --------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Call:
    """One request received on ``/bot<token>/<method>``.

    ``method`` is the canonical Bot API name (``sendMessage``) whatever case the client used;
    ``at`` is ``time.time()`` at arrival; ``status``/``response`` are filled once answered
    (a long-polling getUpdates stays ``status=None`` until it returns; 499 means the client
    went away before the answer).
    """

    method: str
    params: JSONDict
    files: dict[str, tuple[str, bytes]]
    at: float
    index: int = -1
    http_method: str = "POST"
    content_types: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response: JSONDict | None = None

    @property
    def done(self) -> bool:
        return self.status is not None

    @property
    def ok(self) -> bool:
        return self.status == HTTPStatus.OK

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call (``None`` otherwise)."""
        return self.response.get("result") if self.ok and self.response else None

    @property
    def error(self) -> str | None:
        """The error ``description`` of a failed call."""
        if self.response is None or self.ok:
            return None
        return str(self.response.get("description"))

    @property
    def chat_id(self) -> int | str | None:
        return _norm_chat(self.params.get("chat_id"))

    def summary(self) -> str:
        params = json.dumps(self.params, ensure_ascii=False, default=str)
        if len(params) > 200:
            params = params[:197] + "..."
        status = "pending" if self.status is None else str(self.status)
        text = f"#{self.index} {self.method} -> {status} {params}"
        if self.files:
            text += " files=" + ", ".join(
                f"{k}:{v[0]!r}({len(v[1])}B)" for k, v in self.files.items()
            )
        if self.error:
            text += f" [{self.error}]"
        return text


@dataclass(frozen=True)
class StoredFile:
    """A file uploaded by the bot."""

    file_id: str
    file_unique_id: str
    filename: str | None
    mime_type: str | None
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class WebhookConfig:
    """What the bot passed to setWebhook."""

    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int
    ip_address: str | None
    drop_pending_updates: bool


# --------------------------------------------------------------------------------------------
# Internal helpers
# --------------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, error_code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class _ClientGone(Exception):
    """The client closed the connection while its long poll was waiting."""


@dataclass(frozen=True)
class _Described:
    """A successful result carrying a ``description`` (setWebhook and friends)."""

    result: Any
    description: str


@dataclass
class _Pending:
    update_id: int
    data: JSONDict
    forced: bool = False  # re-queued duplicate: survives `offset`, dropped once delivered
    deliveries: int = 0


@dataclass
class _Fault:
    method: str  # lower-case
    error_code: int
    description: str
    parameters: JSONDict | None
    remaining: int | None
    chat_id: int | str | None


def _bad(message: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {message}")


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _norm_chat(value: Any) -> int | str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _as_int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid integer value {value!r}") from None


def _decode_form_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# ---- text formatting (parse_mode) -----------------------------------------------------------


class _TextBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.u16 += _u16(text)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class _Open:
    kind: str
    tag: str
    offset: int
    src_index: int
    extra: JSONDict = field(default_factory=dict)
    language: str | None = None


def _entity(kind: str, offset: int, length: int, extra: Mapping[str, Any]) -> JSONDict:
    return {"type": kind, "offset": offset, "length": length, **extra}


def _sorted_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY_RE: Final = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_HTML_ATTR_RE: Final = re.compile(
    r"""([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?"""
)
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name[0] != "#":
        return _HTML_NAMED[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return match.group(0)


def _parse_html(text: str) -> tuple[str, list[JSONDict]]:
    out = _TextBuilder()
    stack: list[_Open] = []
    entities: list[JSONDict] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            if match:
                out.add(_html_entity(match))
                i = match.end()
            else:
                out.add("&")
                i += 1
            continue
        if char != "<":
            j = i + 1
            while j < n and text[j] not in "<&":
                j += 1
            out.add(text[i:j])
            i = j
            continue
        begin = _byte_offset(text, i)
        if text.startswith("</", i):
            end = text.find(">", i)
            if end == -1:
                raise _bad(f"can't parse entities: Unclosed end tag at byte offset {begin}")
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise _bad(f"can't parse entities: Unexpected end tag at byte offset {begin}")
            top = stack.pop()
            if name and name != top.tag:
                raise _bad(
                    f"can't parse entities: Unmatched end tag at byte offset {begin}, "
                    f'expected "</{top.tag}>", found "</{name}>"'
                )
            i = end + 1
            length = out.u16 - top.offset
            if top.kind == "code" and stack and stack[-1].kind == "pre":
                stack[-1].language = stack[-1].language or top.language
                continue
            if top.kind == "pre" and top.language:
                top.extra["language"] = top.language
            if top.kind == "text_link" and not top.extra.get("url"):
                continue
            if length > 0:
                entities.append(_entity(top.kind, top.offset, length, top.extra))
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] not in "/>":
            j += 1
        name = text[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise _bad(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {begin}'
            )
        attrs: dict[str, str] = {}
        while True:
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise _bad(f"can't parse entities: Unclosed start tag at byte offset {begin}")
            if text[j] == ">":
                j += 1
                break
            match = _HTML_ATTR_RE.match(text, j)
            if match is None:
                raise _bad(
                    f'can\'t parse entities: Unclosed start tag "{name}" at byte offset {begin}'
                )
            raw = next((g for g in match.groups()[1:] if g is not None), "")
            attrs[match.group(1).lower()] = _HTML_ENTITY_RE.sub(_html_entity, raw)
            j = match.end()
        opened = _Open(_HTML_TAGS[name], name, out.u16, i)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _bad('can\'t parse entities: Tag "span" must have class "tg-spoiler"')
        if name == "a":
            opened.extra["url"] = attrs.get("href", "")
        if name == "code" and attrs.get("class", "").startswith("language-"):
            opened.language = attrs["class"][len("language-") :]
        if name == "blockquote" and "expandable" in attrs:
            opened.kind = "expandable_blockquote"
        if name == "tg-emoji":
            if "emoji-id" not in attrs:
                raise _bad('can\'t parse entities: Tag "tg-emoji" must have attribute "emoji-id"')
            opened.extra["custom_emoji_id"] = attrs["emoji-id"]
        stack.append(opened)
        i = j
    if stack:
        raise _bad(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1].tag}"'
        )
    return out.text(), _sorted_entities(entities)


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram strips leading/trailing whitespace; entities are shifted and clipped."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = _u16(text[: len(text) - len(text.lstrip())])
    total = _u16(stripped)
    result: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def _format_text(
    text: Any, parse_mode: Any, entities: Any, *, limit: int, too_long: str
) -> tuple[str, list[JSONDict]]:
    raw = "" if text is None else text if isinstance(text, str) else json.dumps(text)
    if isinstance(entities, list) and entities:
        plain, ents = raw, [dict(e) for e in entities if isinstance(e, dict)]
    elif parse_mode:
        mode = str(parse_mode).lower()
        if mode == "html":
            plain, ents = _parse_html(raw)
        else:  # the bot sends HTML only: Markdown is not emulated
            raise _bad("unsupported parse_mode")
    else:
        plain, ents = raw, []
    plain, ents = _trim(plain, ents)
    if len(plain) > limit:
        raise _ApiError(400, too_long)
    return plain, ents


# ---- images ---------------------------------------------------------------------------------


# ---- HTTP (tornado, installed with python-telegram-bot[webhooks]) ---------------------------


def _parse_params(
    request: tornado.httputil.HTTPServerRequest,
) -> tuple[JSONDict, dict[str, tuple[str, bytes]], dict[str, str]]:
    """Query, url-encoded, multipart or JSON parameters (PTB sends JSON-encoded form values)."""
    if request.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise _bad("can't parse JSON body") from None
        if not isinstance(data, dict):
            raise _bad("JSON body must be an object")
        return data, {}, {}
    params: JSONDict = {}
    for source in (request.query_arguments, request.body_arguments):
        for key, values in source.items():
            params[key] = _decode_form_value(key, values[-1].decode("utf-8", "replace"))
    files = {name: (parts[0].filename, parts[0].body) for name, parts in request.files.items()}
    types = {name: parts[0].content_type for name, parts in request.files.items()}
    return params, files, types


class _ApiHandler(tornado.web.RequestHandler):
    """``/bot<token>/<method>``: one recorded Call each; a long poll waits in the handler."""

    def initialize(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.gone = asyncio.Event()  # the client closed the connection (a long poll's end)

    def on_connection_close(self) -> None:
        self.gone.set()

    def compute_etag(self) -> None:
        return None

    async def post(self, token: str, name: str) -> None:
        answer = await self.fake._respond(token, name, self.request, self.gone)
        if answer is None:
            return  # the client went away
        status, payload = answer
        self.set_status(status, reason=_reason(status))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload, ensure_ascii=False))

    get = post


class _NotFound(tornado.web.RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish({"ok": False, "error_code": 404, "description": "Not Found"})


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """Fake Bot API server.  See the module docstring for the two ways of running it."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_id: int = BOT_ID,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
    ) -> None:
        self.token = token
        self.host = host
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread_id: int | None = None
        self._thread: threading.Thread | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._event = asyncio.Event()

        self._calls: list[Call] = []
        self._last_activity = time.monotonic()
        self._update_ids = itertools.count(1)
        self._pending: list[_Pending] = []
        self._updates: dict[int, JSONDict] = {}
        self._poll_generation = 0
        self._active_polls = 0
        self._message_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._file_counter = itertools.count(1)
        self._files: dict[str, StoredFile] = {}
        self._query_counter = itertools.count(4_382_000_000_000_001)
        self._callback_queries: dict[str, int] = {}  # query id -> update id
        self._callback_answers: dict[str, JSONDict] = {}
        self._commands: dict[tuple[str, str], tuple[JSONDict, str, list[JSONDict]]] = {}
        self._member_status: dict[tuple[int, int], str] = {}
        self._faults: list[_Fault] = []
        self._webhook: WebhookConfig | None = None

        self._handlers: dict[str, Callable[[Call], Any]] = {
            "getMe": lambda call: copy.deepcopy(self.bot_user),
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getUpdates": lambda call: None,  # handled asynchronously, see _get_updates
        }
        self._canonical = {name.lower(): name for name in self._handlers}

    # ---- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` -- pass as ``base_url`` to Bot/ApplicationBuilder."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> FakeTelegram:
        """Start listening in the running event loop."""
        if self._server is not None:
            raise RuntimeError("FakeTelegram is already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread_id = threading.get_ident()
        self._event = asyncio.Event()
        routes = tornado.web.Application(
            [(r"/bot([^/]*)/([^/]*)/?", _ApiHandler, {"fake": self})],
            default_handler_class=_NotFound,
            log_function=lambda handler: None,  # the test's failure message lists the calls
        )
        sockets = tornado.netutil.bind_sockets(self._requested_port, self.host)
        self._server = tornado.httpserver.HTTPServer(routes)
        self._server.add_sockets(sockets)
        self._port = int(sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        """Stop listening and drop open connections (must run in the server's loop)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        await server.close_all_connections()  # ends waiting long polls (as "client gone")
        self._fire()
        self._loop = None
        self._loop_thread_id = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @classmethod
    def start_in_thread(cls, token: str = DEFAULT_TOKEN, **kwargs: Any) -> FakeTelegram:
        """Create a server running in a daemon thread with its own event loop."""
        server = cls(token, **kwargs)
        server._start_thread()
        return server

    def _start_thread(self, timeout: float = 10.0) -> None:
        if self._thread is not None or self._server is not None:
            raise RuntimeError("FakeTelegram is already started")
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                leftovers = asyncio.all_tasks(loop)
                for task in leftovers:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="FakeTelegram", daemon=True)
        thread.start()
        if not started.wait(timeout):
            raise RuntimeError("FakeTelegram thread did not start")
        if failure:
            raise failure[0]
        self._thread = thread

    def stop_thread(self, timeout: float = 10.0) -> None:
        """Stop a server started with :meth:`start_in_thread` (or ``with FakeTelegram()``)."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> FakeTelegram:
        self._start_thread()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_thread()

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run one of the async helpers to completion from a thread that is not the server's
        (e.g. ``tg.run_sync(tg.wait_for_message(42))`` in a sync test, thread mode)."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("FakeTelegram is not running")
        if threading.get_ident() == self._loop_thread_id:
            coro.close()
            raise RuntimeError("run_sync() would deadlock in the server's own thread; use await")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    # ---- change notification ----------------------------------------------------------------

    def _notify(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread_id:
            self._fire()
        else:
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def _in_server_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("FakeTelegram is not running")
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    # ---- HTTP -------------------------------------------------------------------------------

    async def _respond(
        self,
        token: str,
        name: str,
        request: tornado.httputil.HTTPServerRequest,
        gone: asyncio.Event,
    ) -> tuple[int, JSONDict] | None:
        """Record the call and answer it: ``(status, JSON body)``, None if the client left."""
        parse_error: _ApiError | None = None
        try:
            params, files, types = _parse_params(request)
        except _ApiError as exc:
            params, files, types, parse_error = {}, {}, {}, exc
        method = self._canonical.get(name.lower(), name)
        with self._lock:
            call = Call(method, params, files, time.time(), len(self._calls), request.method, types)
            self._calls.append(call)
            if method != "getUpdates":  # polling alone is not activity; deliveries are
                self._last_activity = time.monotonic()
            try:
                if token != self.token:
                    raise _ApiError(401, "Unauthorized")
                if method not in self._handlers:
                    raise _ApiError(404, "Not Found: method not found")
                if parse_error is not None:
                    raise parse_error
                self._check_faults(call)
                if method != "getUpdates":
                    self._finish(call, self._handlers[method](call))
            except _ApiError as exc:
                self._fail(call, exc)
            except Exception as exc:  # a bug in the fake: make it visible to the test
                self._fail(call, _ApiError(500, f"Internal Server Error: fake bug: {exc!r}"))
        self._notify()
        if not call.done:
            try:
                self._finish(call, await self._get_updates(call, gone))
            except _ApiError as exc:
                self._fail(call, exc)
            except _ClientGone:
                call.response = {"ok": False, "description": "client closed the connection"}
                call.status = 499
                self._notify()
                return None
            self._notify()
        assert call.status is not None and call.response is not None
        return call.status, call.response

    def _finish(self, call: Call, result: Any) -> None:
        if isinstance(result, _Described):
            call.response = {"ok": True, "result": result.result, "description": result.description}
        else:
            call.response = {"ok": True, "result": result}
        call.status = 200

    def _fail(self, call: Call, error: _ApiError) -> None:
        call.response = error.payload()
        call.status = error.error_code

    # ---- faults -----------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int = 1,
        count: int | None = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (optionally only to ``chat_id``) fail.

        ``count=None`` fails every matching call until :meth:`clear_faults`.  Default
        descriptions: 429 "Too Many Requests: retry after N" (with ``parameters.retry_after``,
        which PTB turns into ``RetryAfter``), 400 "Bad Request: chat not found", 403
        "Forbidden: bot was blocked by the user", otherwise the HTTP reason phrase.
        """
        if description is None:
            description = {
                400: CHAT_NOT_FOUND,
                401: "Unauthorized",
                403: BOT_BLOCKED,
                404: "Not Found",
                409: POLL_CONFLICT,
                429: f"Too Many Requests: retry after {retry_after}",
            }.get(error_code, _reason(error_code))
        parameters = {"retry_after": retry_after} if error_code == 429 else None
        with self._lock:
            self._faults.append(
                _Fault(
                    method.lower(), error_code, description, parameters, count, _norm_chat(chat_id)
                )
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _check_faults(self, call: Call) -> None:
        for fault in self._faults:
            if fault.method != call.method.lower():
                continue
            if fault.chat_id is not None and fault.chat_id != call.chat_id:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            raise _ApiError(fault.error_code, fault.description, fault.parameters)

    # ---- getUpdates -------------------------------------------------------------------------

    def _apply_offset(self, offset: int) -> None:
        if offset > 0:
            self._pending = [p for p in self._pending if p.update_id >= offset or p.forced]
        elif offset < 0:
            normal = sorted((p for p in self._pending if not p.forced), key=lambda p: p.update_id)
            keep = {id(p) for p in normal[offset:]}
            self._pending = [p for p in self._pending if p.forced or id(p) in keep]

    def _take_batch(self, limit: int) -> list[JSONDict]:
        ordered = sorted(self._pending, key=lambda p: p.update_id)
        batch = ordered[:limit]
        for pending in batch:
            pending.deliveries += 1
        self._pending = [p for p in ordered if not (p.forced and p.deliveries)]
        if batch:
            self._last_activity = time.monotonic()
        return [copy.deepcopy(p.data) for p in batch]

    async def _get_updates(self, call: Call, gone: asyncio.Event) -> list[JSONDict]:
        params = call.params
        with self._lock:
            if self._webhook is not None:
                raise _ApiError(409, WEBHOOK_CONFLICT)
            offset = _as_int(params.get("offset"), 0)
            limit = min(max(_as_int(params.get("limit"), 100), 1), 100)
            timeout = max(float(_as_int(params.get("timeout"), 0)), 0.0)
            self._apply_offset(offset)
            self._poll_generation += 1
            generation = self._poll_generation
            self._active_polls += 1
        self._notify()  # a newer getUpdates terminates the older one with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        disconnect = asyncio.ensure_future(gone.wait())
        try:
            while True:
                event = self._event
                with self._lock:
                    if self._poll_generation != generation:
                        raise _ApiError(409, POLL_CONFLICT)
                    if self._webhook is not None:
                        raise _ApiError(409, WEBHOOK_CONFLICT)
                    batch = self._take_batch(limit)
                if batch or loop.time() >= deadline:
                    return batch
                waiter = asyncio.ensure_future(event.wait())
                done, _ = await asyncio.wait(
                    {waiter, disconnect},
                    timeout=deadline - loop.time(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waiter.cancel()
                if disconnect in done:
                    raise _ClientGone
        finally:
            disconnect.cancel()
            with self._lock:
                self._active_polls -= 1

    @property
    def is_polling(self) -> bool:
        """True while a getUpdates request is waiting (the bot is long-polling)."""
        with self._lock:
            return self._active_polls > 0

    # ---- webhook ----------------------------------------------------------------------------

    def _drop_pending_if_asked(self, params: JSONDict) -> None:
        if params.get("drop_pending_updates") is True:
            self._pending.clear()

    def _delete_webhook(self, call: Call) -> _Described:
        self._drop_pending_if_asked(call.params)
        had, self._webhook = self._webhook, None
        return _Described(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _set_webhook(self, call: Call) -> _Described:
        params = call.params
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(call)
        secret = params.get("secret_token")
        if secret is not None:
            secret = str(secret)
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise _bad("secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        self._drop_pending_if_asked(params)
        previous = self._webhook
        self._webhook = WebhookConfig(
            url=url,
            secret_token=secret,
            allowed_updates=[str(a) for a in allowed] if isinstance(allowed, list) else None,
            max_connections=_as_int(params.get("max_connections"), 40),
            ip_address=params.get("ip_address"),
            drop_pending_updates=params.get("drop_pending_updates") is True,
        )
        already = previous is not None and previous.url == url
        return _Described(True, "Webhook is already set" if already else "Webhook was set")

    def _get_webhook_info(self, call: Call) -> JSONDict:
        info: JSONDict = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._webhook.ip_address:
                info["ip_address"] = self._webhook.ip_address
            if self._webhook.allowed_updates is not None:
                info["allowed_updates"] = self._webhook.allowed_updates
        return info

    @property
    def webhook(self) -> WebhookConfig | None:
        """The webhook registered by the bot (url, secret_token, ...), or None."""
        with self._lock:
            return self._webhook

    async def post_update_to_webhook(
        self,
        url: str | None = None,
        update_dict: Mapping[str, Any] | None = None,
        secret_token: str | _Registered | None = REGISTERED_SECRET,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - HTTP client timeout
    ) -> int:
        """POST an update to the bot's webhook like Telegram does; return the HTTP status.

        ``url`` defaults to the URL registered with setWebhook.  ``update_dict`` defaults to
        the oldest queued update (fed with ``send_text``/``press_button``/...), which is then
        removed from the queue; a given dict without ``update_id`` gets one.
        ``secret_token`` defaults to the registered one; pass ``None`` to omit the
        ``X-Telegram-Bot-Api-Secret-Token`` header or a string to send a specific value.
        """
        with self._lock:
            if url is None:
                if self._webhook is None:
                    raise RuntimeError("no webhook registered (the bot never called setWebhook)")
                url = self._webhook.url
            if isinstance(secret_token, _Registered):
                secret_token = self._webhook.secret_token if self._webhook else None
            if update_dict is None:
                if not self._pending:
                    raise RuntimeError("no queued update to post")
                pending = min(self._pending, key=lambda p: p.update_id)
                self._pending.remove(pending)
                update = copy.deepcopy(pending.data)
            else:
                update = copy.deepcopy(dict(update_dict))
                if "update_id" not in update:
                    update["update_id"] = next(self._update_ids)
                if isinstance(update["update_id"], int):
                    self._updates[update["update_id"]] = copy.deepcopy(update)
        self._notify()
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(url, content=json.dumps(update), headers=headers)
        return response.status_code

    async def deliver_pending_to_webhook(self) -> list[int]:
        """POST every queued update to the registered webhook; return the HTTP statuses."""
        statuses: list[int] = []
        while self.pending_updates():
            statuses.append(await self.post_update_to_webhook())
        return statuses

    # ---- chats, users, messages -------------------------------------------------------------

    def _chat_obj(self, chat_id: int, *, register: bool = False) -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": "User"}
            elif str(chat_id).startswith("-100"):
                chat = {"id": chat_id, "type": "supergroup", "title": f"Group {-chat_id}"}
            else:
                chat = {"id": chat_id, "type": "group", "title": f"Group {-chat_id}"}
            self._chats[chat_id] = chat
        return copy.deepcopy(chat)

    def _user_obj(self, user_id: int) -> JSONDict:
        if user_id == self.bot_user["id"]:
            return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        return copy.deepcopy(
            self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "User"})
        )

    def _chat_id(self, params: JSONDict, key: str = "chat_id") -> int:
        cid = _norm_chat(params.get(key))
        if cid is None or cid == "":
            raise _bad("chat_id is empty")
        if isinstance(cid, str):
            wanted = cid.removeprefix("@").lower()
            for chat in self._chats.values():
                if str(chat.get("username", "")).lower() == wanted:
                    return int(chat["id"])
            raise _ApiError(400, CHAT_NOT_FOUND)
        return cid

    def _message_key(self, params: JSONDict, missing: str) -> tuple[int, int]:
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        if message_id is None or message_id == "":
            raise _bad("message identifier is not specified")
        key = (chat_id, _as_int(message_id, 0))
        if key not in self._messages:
            raise _bad(missing)
        return key

    def _inline_markup(self, params: JSONDict) -> JSONDict | None:
        """Validated inline keyboard from ``reply_markup`` (None if absent or another kind)."""
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
                raise _bad("can't parse reply keyboard markup JSON object")
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not _BUTTON_ACTIONS & button.keys():
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                        raise _bad("BUTTON_DATA_INVALID")
        if not any(rows):
            return None
        return {"inline_keyboard": [row for row in rows if row]}

    def _store_bot_message(
        self,
        chat_id: int,
        content: JSONDict,
        markup: JSONDict | None,
    ) -> JSONDict:
        message: JSONDict = {
            "message_id": next(self._message_ids),
            "from": self._user_obj(int(self.bot_user["id"])),
            "chat": self._chat_obj(chat_id),
            "date": int(time.time()),
        }
        message.update(content)
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = message
        return copy.deepcopy(message)

    def _send_message(self, call: Call) -> JSONDict:
        params = call.params
        chat_id = self._chat_id(params)
        text, entities = _format_text(
            params.get("text"),
            params.get("parse_mode"),
            params.get("entities"),
            limit=4096,
            too_long="Bad Request: message is too long",
        )
        if not text:
            raise _bad("message text is empty")
        markup = self._inline_markup(params)
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            content["link_preview_options"] = params["link_preview_options"]
        return self._store_bot_message(chat_id, content, markup)

    def _editable(self, params: JSONDict) -> JSONDict:
        key = self._message_key(params, "message to edit not found")
        message = self._messages[key]
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad("message can't be edited")
        return message

    def _commit_edit(self, message: JSONDict, changes: JSONDict) -> JSONDict:
        for name, value in changes.items():
            if value is None or value == []:
                message.pop(name, None)
            else:
                message[name] = value
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _edit_message_text(self, call: Call) -> Any:
        params = call.params
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = _format_text(
            params.get("text"),
            params.get("parse_mode"),
            params.get("entities"),
            limit=4096,
            too_long="Bad Request: MESSAGE_TOO_LONG",
        )
        if not text:
            raise _bad("message text is empty")
        markup = self._inline_markup(params)
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise _ApiError(400, NOT_MODIFIED)
        changes = {"text": text, "entities": entities, "reply_markup": markup}
        return self._commit_edit(message, changes)

    def _edit_message_reply_markup(self, call: Call) -> Any:
        params = call.params
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        markup = self._inline_markup(params)
        if markup == message.get("reply_markup"):
            raise _ApiError(400, NOT_MODIFIED)
        return self._commit_edit(message, {"reply_markup": markup})

    def _answer_callback_query(self, call: Call) -> bool:
        query_id = str(call.params.get("callback_query_id") or "")
        if query_id not in self._callback_queries or query_id in self._callback_answers:
            raise _ApiError(400, QUERY_INVALID)
        self._callback_answers[query_id] = dict(call.params)
        return True

    def _delete_message(self, call: Call) -> bool:
        key = self._message_key(call.params, "message to delete not found")
        del self._messages[key]
        return True

    def _send_chat_action(self, call: Call) -> bool:
        self._chat_id(call.params)
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    # ---- files ------------------------------------------------------------------------------

    def _input_file(self, call: Call, name: str) -> StoredFile:
        """The uploaded part ``name`` (the bot always uploads bytes: no URL, no file_id)."""
        value = call.params.get(name)
        part = value.removeprefix("attach://") if isinstance(value, str) else name
        if part not in call.files:
            raise _bad(f"there is no {name} in the request")
        filename, content = call.files[part]
        if not content:
            raise _bad("file must be non-empty")
        if name == "photo" and not content.startswith(_PNG):
            raise _bad("IMAGE_PROCESS_FAILED")  # the bot's charts are PNG
        number = next(self._file_counter)
        stored = StoredFile(
            file_id=f"{'AgAC' if name == 'photo' else 'BQAC'}{number:06d}",
            file_unique_id=f"AQAD{number:06d}",
            filename=filename,
            mime_type=call.content_types.get(part) or mimetypes.guess_type(filename)[0],
            content=content,
        )
        self._files[stored.file_id] = stored
        return stored

    def _caption(self, params: JSONDict) -> JSONDict:
        caption, entities = _format_text(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            limit=1024,
            too_long="Bad Request: message caption is too long",
        )
        content: JSONDict = {}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return content

    def _send_document(self, call: Call) -> JSONDict:
        params = call.params
        chat_id = self._chat_id(params)
        stored = self._input_file(call, "document")
        content = self._caption(params)
        markup = self._inline_markup(params)
        document: JSONDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.filename:
            document["file_name"] = stored.filename
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        document["file_size"] = stored.size
        return self._store_bot_message(chat_id, {"document": document, **content}, markup)

    def _send_photo(self, call: Call) -> JSONDict:
        params = call.params
        chat_id = self._chat_id(params)
        stored = self._input_file(call, "photo")
        content = self._caption(params)
        markup = self._inline_markup(params)
        width, height = struct.unpack(">II", stored.content[16:24])  # the PNG's IHDR
        size = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": stored.size, "width": int(width), "height": int(height)}  # fmt: skip
        return self._store_bot_message(chat_id, {"photo": [size], **content}, markup)

    def file(self, file_id: str) -> StoredFile:
        """A file the bot uploaded (``KeyError`` if unknown)."""
        with self._lock:
            return self._files[file_id]

    # ---- commands, menu button, chat info ----------------------------------------------------

    @staticmethod
    def _scope(params: Mapping[str, Any]) -> tuple[JSONDict, str]:
        scope = params.get("scope")
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        return scope, json.dumps(scope, sort_keys=True)

    def _set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "")) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        scope, scope_key = self._scope(call.params)
        language = str(call.params.get("language_code") or "")
        if commands:
            self._commands[(scope_key, language)] = (scope, language, copy.deepcopy(commands))
        else:
            self._commands.pop((scope_key, language), None)
        return True

    def _delete_my_commands(self, call: Call) -> bool:
        _, scope_key = self._scope(call.params)
        self._commands.pop((scope_key, str(call.params.get("language_code") or "")), None)
        return True

    def _get_my_commands(self, call: Call) -> list[JSONDict]:
        _, scope_key = self._scope(call.params)
        entry = self._commands.get((scope_key, str(call.params.get("language_code") or "")))
        return copy.deepcopy(entry[2]) if entry else []

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """Commands set for ``scope`` (default scope if None) and language."""
        _, scope_key = self._scope({"scope": dict(scope) if scope else None})
        with self._lock:
            entry = self._commands.get((scope_key, language_code))
            return copy.deepcopy(entry[2]) if entry else []

    def command_sets(self) -> list[tuple[JSONDict, str, list[JSONDict]]]:
        """Every stored ``(raw scope, language_code, commands)``."""
        with self._lock:
            return copy.deepcopy(list(self._commands.values()))

    def _set_chat_menu_button(self, call: Call) -> bool:
        if call.params.get("chat_id"):
            self._chat_id(call.params)
        button = call.params.get("menu_button")
        if button is not None and not isinstance(button, dict):
            raise _bad("can't parse menu button JSON object")
        return True

    def _get_chat(self, call: Call) -> JSONDict:
        chat = self._chat_obj(self._chat_id(call.params))
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return chat

    def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        """Status getChatMember reports: creator, administrator, member (default), left, kicked."""
        if status not in {"creator", "administrator", "member", "left", "kicked"}:
            raise ValueError(f"unsupported chat member status {status!r}")
        with self._lock:
            self._member_status[(chat_id, user_id)] = status

    def _get_chat_member(self, call: Call) -> JSONDict:
        chat_id = self._chat_id(call.params)
        user_id = _as_int(call.params.get("user_id"), 0)
        if not user_id:
            raise _bad("user not found")
        status = self._member_status.get((chat_id, user_id), "member")
        member: JSONDict = {"status": status, "user": self._user_obj(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # ---- feeding updates --------------------------------------------------------------------

    def _queue(self, body: JSONDict) -> int:
        update_id = next(self._update_ids)
        update = {"update_id": update_id, **body}
        self._updates[update_id] = copy.deepcopy(update)
        self._pending.append(_Pending(update_id, update))
        return update_id

    def _register_user(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None,
        username: str | None,
        last_name: str | None,
    ) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        chat = {k: v for k, v in user.items() if k in ("first_name", "last_name", "username")}
        self._chats[user_id] = {"id": user_id, "type": "private", **chat}
        return copy.deepcopy(user)

    def _conversation_chat(self, user_id: int, chat_id: int | None) -> tuple[int, JSONDict]:
        if chat_id is None or chat_id == user_id:
            return user_id, copy.deepcopy(self._chats[user_id])
        return chat_id, self._chat_obj(chat_id, register=True)

    def add_user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        language_code: str | None = "fr",
        username: str | None = None,
        last_name: str | None = None,
    ) -> JSONDict:
        """Register a user (and their private chat) without sending an update."""
        with self._lock:
            return self._register_user(user_id, first_name, language_code, username, last_name)

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        language_code: str | None = "fr",
        first_name: str = "Test",
        *,
        username: str | None = None,
        last_name: str | None = None,
    ) -> int:
        """Queue a text message from ``user_id`` (private chat unless ``chat_id`` is given;
        negative ids are groups).  ``/commands`` get ``bot_command`` entities like on Telegram.
        Returns the update_id."""
        with self._lock:
            user = self._register_user(user_id, first_name, language_code, username, last_name)
            cid, chat = self._conversation_chat(user_id, chat_id)
            message: JSONDict = {
                "message_id": next(self._message_ids),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            entities = [
                {
                    "type": "bot_command",
                    "offset": _u16(text[: m.start()]),
                    "length": _u16(m.group()),
                }
                for m in _BOT_COMMAND_ENTITY_RE.finditer(text)
            ]
            if entities:
                message["entities"] = entities
            self._messages[(cid, message["message_id"])] = copy.deepcopy(message)
            update_id = self._queue({"message": message})
        self._notify()
        return update_id

    def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        strict: bool = True,
        language_code: str | None = "fr",
        first_name: str = "Test",
        username: str | None = None,
    ) -> int:
        """Queue a ``callback_query`` for a button of a stored message (with its *current*
        text and keyboard).  With ``strict`` (default) the message must currently show a
        button with that callback_data, otherwise ``AssertionError``.  ``first_name`` etc. are
        only used for a user not seen before.  Returns the update_id.
        """
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise LookupError(f"no message {message_id} in chat {chat_id} (deleted?)")
            if strict:
                buttons = [b for row in self._keyboard(message) for b in row]
                if callback_data not in [b.get("callback_data") for b in buttons]:
                    raise AssertionError(
                        f"message {message_id} in chat {chat_id} has no button with "
                        f"callback_data {callback_data!r}; buttons: "
                        f"{[(b.get('text'), b.get('callback_data')) for b in buttons]}"
                    )
            if user_id not in self._users:
                self._register_user(user_id, first_name, language_code, username, None)
            query_id = str(next(self._query_counter))
            query = {
                "id": query_id,
                "from": self._user_obj(user_id),
                "message": copy.deepcopy(message),
                "chat_instance": str(abs(chat_id) * 1_000_003 + 17),
                "data": callback_data,
            }
            update_id = self._queue({"callback_query": query})
            self._callback_queries[query_id] = update_id
        self._notify()
        return update_id

    def press_button_text(
        self, user_id: int, chat_id: int, message_id: int, text: str, **kwargs: Any
    ) -> int:
        """Press the first button whose label contains ``text``; see :meth:`press_button`."""
        return self.press_button(
            user_id, chat_id, message_id, self.find_button(chat_id, message_id, text), **kwargs
        )

    def find_button(self, chat_id: int, message_id: int, text: str) -> str:
        """callback_data of the first button whose label contains ``text``."""
        for row in self.inline_keyboard(chat_id, message_id):
            for button in row:
                if text in str(button.get("text")) and "callback_data" in button:
                    return str(button["callback_data"])
        raise AssertionError(
            f"no callback button containing {text!r} on message {message_id} in chat {chat_id}; "
            f"keyboard: {self.inline_keyboard(chat_id, message_id)}"
        )

    def send_raw_update(self, update: Mapping[str, Any]) -> int:
        """Queue any dict as an update (garbage welcome).  ``update_id`` is assigned unless
        present.  Returns the update_id."""
        with self._lock:
            data = copy.deepcopy(dict(update))
            if "update_id" in data and isinstance(data["update_id"], int):
                update_id = int(data["update_id"])
                self._update_ids = itertools.count(max(update_id + 1, next(self._update_ids)))
                self._updates[update_id] = copy.deepcopy(data)
                self._pending.append(_Pending(update_id, data))
            else:
                data.pop("update_id", None)
                update_id = self._queue(data)
        self._notify()
        return update_id

    def duplicate_update(self, update_id: int) -> int:
        """Deliver an already queued/delivered update once more (same update_id), even if the
        bot already confirmed it: simulates Telegram's at-least-once redelivery."""
        with self._lock:
            data = copy.deepcopy(self._updates[update_id])
            self._pending.append(_Pending(update_id, data, forced=True))
        self._notify()
        return update_id

    def update(self, update_id: int) -> JSONDict:
        """The update fed with that id (e.g. ``tg.update(uid)["message"]["message_id"]``)."""
        with self._lock:
            return copy.deepcopy(self._updates[update_id])

    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot (delivered or not)."""
        with self._lock:
            return [copy.deepcopy(p.data) for p in sorted(self._pending, key=lambda p: p.update_id)]

    def callback_answer(self, update_id: int) -> JSONDict | None:
        """Parameters of answerCallbackQuery for the callback query of that update."""
        with self._lock:
            for query_id, uid in self._callback_queries.items():
                if uid == update_id:
                    return copy.deepcopy(self._callback_answers.get(query_id))
        return None

    # ---- inspection -------------------------------------------------------------------------

    def mark(self) -> int:
        """Number of calls recorded so far; pass as ``after_index`` to the wait helpers."""
        with self._lock:
            return len(self._calls)

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls, optionally of one method (case-insensitive)."""
        with self._lock:
            if method is None:
                return list(self._calls)
            wanted = method.lower()
            return [c for c in self._calls if c.method.lower() == wanted]

    def sent_messages(self, chat_id: int | None = None) -> list[JSONDict]:
        """Messages returned by successful sendMessage/sendDocument/sendPhoto, in order."""
        with self._lock:
            return [
                copy.deepcopy(c.result)
                for c in self._calls
                if c.method in _SEND_METHODS
                and c.ok
                and (chat_id is None or c.result["chat"]["id"] == chat_id)
            ]

    def last_message(self, chat_id: int) -> JSONDict | None:
        """The last message the bot sent to ``chat_id``, as it is now (after edits; as sent if
        it was deleted)."""
        with self._lock:
            sent = self.sent_messages(chat_id)
            if not sent:
                return None
            current = self._messages.get((chat_id, sent[-1]["message_id"]))
            return copy.deepcopy(current) if current is not None else sent[-1]

    def last_text(self, chat_id: int) -> str | None:
        """Text (or caption) of :meth:`last_message`."""
        message = self.last_message(chat_id)
        if message is None:
            return None
        return message.get("text", message.get("caption"))

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """Current state of a stored message (bot's or user's); None if unknown/deleted."""
        with self._lock:
            return copy.deepcopy(self._messages.get((chat_id, message_id)))

    @staticmethod
    def _keyboard(message: Mapping[str, Any]) -> list[list[JSONDict]]:
        markup = message.get("reply_markup") or {}
        return list(markup.get("inline_keyboard", []))

    def inline_keyboard(self, chat_id: int, message_id: int) -> list[list[JSONDict]]:
        """Current inline keyboard rows of a message ([] if none)."""
        message = self.message(chat_id, message_id)
        return self._keyboard(message) if message else []

    # ---- waiting ----------------------------------------------------------------------------

    def _timeout_error(self, what: str, timeout: float) -> AssertionError:
        with self._lock:
            recent = self._calls[-25:]
            pending = len(self._pending)
        lines = "\n".join(f"  {c.summary()}" for c in recent) or "  (none)"
        return AssertionError(
            f"timed out after {timeout}s waiting for {what}; {pending} update(s) not confirmed; "
            f"last calls:\n{lines}"
        )

    async def _wait_here(self, check: Callable[[], T], seconds: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            event = self._event
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._timeout_error(what, seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        what: str | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked whenever a call/update is
        recorded) and return its value.  Runs the predicate in the server's thread."""
        description = what or getattr(predicate, "__name__", repr(predicate))
        return await self._in_server_loop(self._wait_here(predicate, timeout, description))

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        after_index: int = 0,
    ) -> Call:
        """First *answered* call of ``method`` with index >= ``after_index`` matching
        ``predicate`` (failed calls included: check ``call.ok``)."""

        def check() -> Call | None:
            for call in self.calls(method):
                if (
                    call.index >= after_index
                    and call.done
                    and (predicate is None or predicate(call))
                ):
                    return call
            return None

        what = f"a {method} call" + (" matching the predicate" if predicate else "")
        what += f" (after_index={after_index})"
        return await self._in_server_loop(self._wait_here(check, timeout, what))

    async def wait_for_poll(
        self,
        after_index: int = 0,
        timeout: float = 20.0,  # noqa: ASYNC109
    ) -> Call:
        """First getUpdates request with index >= ``after_index`` to *arrive* (answered or
        still waiting): the bot is polling.  Waiting for the answer instead would cost the
        whole long-poll timeout when nothing is queued."""

        def check() -> Call | None:
            return next((c for c in self.calls("getUpdates") if c.index >= after_index), None)

        what = f"a getUpdates request (after_index={after_index})"
        return await self._in_server_loop(self._wait_here(check, timeout, what))

    async def wait_for_message(
        self,
        chat_id: int,
        contains: str | re.Pattern[str] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        after_index: int = 0,
        *,
        include_edits: bool = False,
    ) -> Call:
        """First successful send (and edit, if ``include_edits``) to ``chat_id`` whose text or
        caption contains ``contains`` (substring or regex).  ``call.result`` is the Message."""
        methods = _SEND_METHODS + (_EDIT_METHODS if include_edits else ())

        def matches(call: Call) -> bool:
            result = call.result
            if call.method not in methods or not isinstance(result, dict):
                return False
            if result.get("chat", {}).get("id") != chat_id:
                return False
            if contains is None:
                return True
            text = str(result.get("text", result.get("caption", "")))
            if isinstance(contains, str):
                return contains in text
            return contains.search(text) is not None

        def check() -> Call | None:
            return next((c for c in self.calls()[after_index:] if matches(c)), None)

        what = f"a message to chat {chat_id}" + (f" containing {contains!r}" if contains else "")
        what += f" (after_index={after_index})"
        return await self._in_server_loop(self._wait_here(check, timeout, what))

    async def wait_until_idle(
        self,
        quiet: float = 0.2,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until every queued update was fetched by getUpdates and, for ``quiet``
        seconds, no other request arrived and no update was delivered."""

        async def idle() -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                event = self._event
                with self._lock:
                    undelivered = any(p.deliveries == 0 for p in self._pending)
                    since = time.monotonic() - self._last_activity
                if not undelivered and since >= quiet:
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise self._timeout_error("the bot to become idle", timeout)
                wake = remaining if undelivered else min(remaining, quiet - since)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), wake)

        await self._in_server_loop(idle())
