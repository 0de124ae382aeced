"""Tests of the fake Telegram Bot API server, driven by python-telegram-bot itself.

Everything goes through PTB's real HTTP stack (``telegram.Bot``/``Application`` with
``base_url`` pointed at the fake), so these tests also pin down that the fake understands
what PTB 22 sends (url-encoded bodies with JSON-encoded values, multipart uploads) and that
PTB parses what the fake answers.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, MessageEntityType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.e2e.fake_telegram import BOT_ID, BOT_USERNAME, NOT_MODIFIED, FakeTelegram

KB = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Oui", callback_data="yes"),
            InlineKeyboardButton("Non", callback_data="no"),
        ]
    ]
)
KB_DONE = InlineKeyboardMarkup([[InlineKeyboardButton("Recommencer", callback_data="again")]])


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url) as client:
        yield client


async def test_get_me(bot: Bot, tg: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (BOT_ID, BOT_USERNAME, True)
    assert bot.username == BOT_USERNAME  # set by Bot.initialize() from getMe
    assert tg.base_url == f"http://127.0.0.1:{tg.port}/bot"
    assert [c.method for c in tg.calls()] == ["getMe", "getMe"]


async def test_wrong_token_unknown_method_and_raw_requests(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        await Bot("999:WRONG", base_url=tg.base_url).initialize()  # getMe → 401
    assert tg.calls()[-1].status == 401

    api = f"{tg.base_url}{tg.token}"
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api}/fooBar")
        assert response.status_code == 404
        assert response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
        # Method names are case-insensitive; JSON bodies are accepted.
        response = await client.post(f"{api}/GETME", json={})
        assert response.json()["result"]["id"] == BOT_ID
        response = await client.post(f"{api}/sendmessage", json={"chat_id": "123", "text": "hi"})
        assert response.json()["result"]["chat"] == {
            "id": 123,
            "type": "private",
            "first_name": "User",
        }

        # A chunked, url-encoded body (httpx streams async generators).
        async def body() -> AsyncIterator[bytes]:
            yield b"chat_id=123&text=en+"
            yield b"morceaux"

        response = await client.post(
            f"{api}/sendMessage",
            content=body(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.json()["result"]["text"] == "en morceaux"

    assert [c.method for c in tg.calls("SENDMESSAGE")] == ["sendMessage", "sendMessage"]
    assert tg.calls("sendMessage")[0].params == {"chat_id": "123", "text": "hi"}  # JSON as sent
    assert tg.calls("fooBar")[0].status == 404


async def test_send_message_with_inline_keyboard(bot: Bot, tg: FakeTelegram) -> None:
    message = await bot.send_message(chat_id=42, text="Bonjour", reply_markup=KB)
    assert message.text == "Bonjour"
    assert message.reply_markup == KB
    assert message.from_user is not None and message.from_user.id == BOT_ID
    assert message.chat.type == "private"

    call = tg.calls("sendMessage")[0]
    assert call.params["chat_id"] == 42  # form value "42", JSON-decoded
    assert call.params["reply_markup"] == KB.to_dict()  # form value was a JSON string
    assert tg.message(42, message.message_id)["reply_markup"] == KB.to_dict()  # type: ignore[index]
    assert tg.last_text(42) == "Bonjour"

    later = await bot.send_message(42, "123")  # a numeric text stays a string
    assert later.message_id > message.message_id
    assert tg.calls("sendMessage")[1].params["text"] == "123"
    assert [m["text"] for m in tg.sent_messages(42)] == ["Bonjour", "123"]

    assert (await bot.send_message(-1001234, "salut")).chat.type == "supergroup"
    assert (await bot.send_message(-55, "salut")).chat.type == "group"
    assert len(tg.sent_messages()) == 4

    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        too_long = InlineKeyboardButton("x", callback_data="x" * 65)
        await bot.send_message(42, "x", reply_markup=InlineKeyboardMarkup([[too_long]]))
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(42, "   ")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(42, "x" * 4097)


async def test_edit_message_text_and_not_modified(bot: Bot, tg: FakeTelegram) -> None:
    sent = await bot.send_message(42, "Question ?", reply_markup=KB)
    mid = sent.message_id

    edited = await bot.edit_message_text(
        "Réponse : oui", chat_id=42, message_id=mid, reply_markup=KB_DONE
    )
    assert not isinstance(edited, bool) and edited.edit_date is not None
    assert tg.message(42, mid)["text"] == "Réponse : oui"  # type: ignore[index]
    assert tg.inline_keyboard(42, mid) == KB_DONE.to_dict()["inline_keyboard"]

    with pytest.raises(BadRequest, match=r"(?i)message is not modified") as info:
        await bot.edit_message_text(
            "Réponse : oui", chat_id=42, message_id=mid, reply_markup=KB_DONE
        )
    # PTB drops the "Bad Request: " prefix and capitalizes the rest.
    assert NOT_MODIFIED.lower().endswith(info.value.message.lower())

    # Without reply_markup the inline keyboard is removed, as on Telegram.
    await bot.edit_message_text("Réponse : oui", chat_id=42, message_id=mid)
    assert tg.inline_keyboard(42, mid) == []

    await bot.edit_message_reply_markup(chat_id=42, message_id=mid, reply_markup=KB)
    assert tg.inline_keyboard(42, mid) == KB.to_dict()["inline_keyboard"]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat_id=42, message_id=mid, reply_markup=KB)

    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=mid + 1000)
    user_update = tg.send_text(42, "mon message")
    user_mid = tg.update(user_update)["message"]["message_id"]
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", chat_id=42, message_id=user_mid)

    assert tg.last_text(42) == "Réponse : oui"
    assert tg.sent_messages(42)[0]["text"] == "Question ?"  # results as returned at send time


async def test_parse_modes_like_telegram(bot: Bot, tg: FakeTelegram) -> None:
    html = await bot.send_message(
        42, '  <b>Dose</b> &lt; 5 <a href="https://x.org">lien</a>\n', parse_mode=ParseMode.HTML
    )
    assert html.text == "Dose < 5 lien"
    assert html.entities == (
        MessageEntity(MessageEntityType.BOLD, 0, 4),
        MessageEntity(MessageEntityType.TEXT_LINK, 9, 4, url="https://x.org"),
    )
    with pytest.raises(BadRequest, match=r"(?i)Unsupported start tag"):
        await bot.send_message(42, "a < b", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)Can't find end tag"):
        await bot.send_message(42, "<b>gras", parse_mode=ParseMode.HTML)

    # The bot sends HTML only: Markdown is refused rather than half emulated.
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_message(42, "*Poids*", parse_mode=ParseMode.MARKDOWN_V2)

    # Emoji are two UTF-16 code units: entity offsets are counted like Telegram does.
    emoji = await bot.send_message(42, "🩺 <i>ok</i>", parse_mode=ParseMode.HTML)
    assert emoji.entities == (MessageEntity(MessageEntityType.ITALIC, 3, 2),)
    assert emoji.parse_entity(emoji.entities[0]) == "ok"


async def test_send_document_and_photo(bot: Bot, tg: FakeTelegram) -> None:
    content = b"id;dose\n1;2.5\n"
    message = await bot.send_document(
        42,
        document=content,
        filename="export.csv",
        caption="Export <b>CSV</b>",
        parse_mode=ParseMode.HTML,
    )
    assert message.document is not None
    assert message.document.file_name == "export.csv"
    assert message.document.file_size == len(content)
    assert message.document.mime_type == "text/csv"
    assert message.caption == "Export CSV"

    call = tg.calls("sendDocument")[0]
    assert call.files["document"] == ("export.csv", content)
    assert call.params["caption"] == "Export <b>CSV</b>"
    assert tg.sent_messages(42)[-1]["document"]["file_id"] == message.document.file_id
    assert tg.last_text(42) == "Export CSV"
    assert tg.file(message.document.file_id).content == content

    photo = await bot.send_photo(42, photo=_png(200, 100), caption="Graphique")
    assert photo.caption == "Graphique"
    assert (photo.photo[-1].width, photo.photo[-1].height) == (200, 100)
    assert tg.calls("sendPhoto")[0].files["photo"][1] == _png(200, 100)
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(42, photo=b"not an image")
    with pytest.raises(BadRequest, match=r"(?i)file must be non-empty"):
        await bot.send_document(42, document=b"", filename="vide.txt")


# PTB itself warns about RetryAfter.retry_after's future type when building the exception.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fault_injection(bot: Bot, tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(42, "rappel")
    assert "Retry in 1" in str(info.value)
    assert tg.calls("sendMessage")[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    await bot.send_message(42, "rappel")  # only the next call failed

    tg.fail_next("sendMessage", 403, chat_id=7, count=None)
    for _ in range(2):
        with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
            await bot.send_message(7, "rappel")
    await bot.send_message(8, "rappel")  # other chats are unaffected
    tg.fail_next("SENDMESSAGE", 400)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(8, "rappel")
    tg.clear_faults()
    await bot.send_message(7, "rappel")

    statuses = [c.status for c in tg.calls("sendMessage")]
    assert statuses == [429, 200, 403, 403, 200, 400, 200]
    assert [m["chat"]["id"] for m in tg.sent_messages()] == [42, 8, 7]


async def test_get_updates_long_poll_text_and_callback(bot: Bot, tg: FakeTelegram) -> None:
    sent = await bot.send_message(42, "Choisissez", reply_markup=KB)
    loop = asyncio.get_running_loop()

    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await tg.wait_for(lambda: tg.is_polling)
    started = loop.time()
    uid = tg.send_text(42, "/start@lysyme_test_bot inclusion", first_name="Marie")
    (update,) = await poll
    assert loop.time() - started < 1  # answered as soon as the update was queued

    assert update.update_id == uid
    assert update.message is not None and update.message.text == "/start@lysyme_test_bot inclusion"
    entity = update.message.entities[0]
    assert (entity.type, entity.offset, entity.length) == (
        MessageEntityType.BOT_COMMAND,
        0,
        len("/start@lysyme_test_bot"),
    )
    assert update.message.from_user is not None
    assert update.message.from_user.first_name == "Marie"
    assert update.message.from_user.language_code == "fr"
    assert update.message.chat.type == "private"
    assert Update.de_json(tg.update(uid), bot) == update

    # Not confirmed yet (no offset): delivered again.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [uid]

    cb_uid = tg.press_button(42, 42, sent.message_id, "yes")
    (cb_update,) = await bot.get_updates(offset=uid + 1, timeout=5)
    query = cb_update.callback_query
    assert query is not None and query.data == "yes"
    assert query.from_user.first_name == "Marie"  # known user
    assert query.message is not None and query.message.message_id == sent.message_id
    assert query.message.text == "Choisissez"  # type: ignore[union-attr]
    assert query.message.reply_markup == KB  # type: ignore[union-attr]

    assert await bot.answer_callback_query(query.id, text="Noté")
    assert tg.callback_answer(cb_uid) == {"callback_query_id": query.id, "text": "Noté"}
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)

    assert await bot.get_updates(offset=cb_uid + 1, timeout=0) == ()
    assert tg.pending_updates() == []

    with pytest.raises(AssertionError, match="no button with callback_data 'nope'"):
        tg.press_button(42, 42, sent.message_id, "nope")
    assert tg.find_button(42, sent.message_id, "Non") == "no"


async def test_updates_limit_raw_and_duplicates(bot: Bot, tg: FakeTelegram) -> None:
    first = tg.send_text(1, "un")
    second = tg.send_text(1, "deux")
    raw = tg.send_raw_update({"foo": {"bar": 1}})
    got = await bot.get_updates(limit=2, timeout=0)
    assert [u.update_id for u in got] == [first, second]
    (garbage,) = await bot.get_updates(offset=second + 1, timeout=0)
    assert garbage.update_id == raw and garbage.api_kwargs == {"foo": {"bar": 1}}

    # At-least-once: an already confirmed update comes back once, with the same id.
    assert tg.duplicate_update(first) == first
    (dup,) = await bot.get_updates(offset=raw + 1, timeout=0)
    assert dup.update_id == first and dup.message is not None and dup.message.text == "un"
    assert await bot.get_updates(offset=raw + 1, timeout=0) == ()

    # Explicit ids are kept and later ids continue after them.
    assert tg.send_raw_update({"update_id": 500, "edited_message": tg.update(first)["message"]})
    assert tg.send_text(1, "suite") == 501

    # drop_pending_updates empties the queue.
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert tg.pending_updates() == []


async def test_newer_get_updates_terminates_older(bot: Bot, tg: FakeTelegram) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for(lambda: tg.is_polling)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{tg.base_url}{tg.token}/getUpdates", data={"timeout": "0"})
    assert response.json() == {"ok": True, "result": []}
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
        await first


async def test_a_long_poll_whose_client_leaves_ends_at_once(tg: FakeTelegram) -> None:
    """What a kill -9 of a polling bot looks like: the waiting getUpdates ends, marked 499."""
    async with httpx.AsyncClient() as client:
        poll = asyncio.create_task(
            client.post(f"{tg.base_url}{tg.token}/getUpdates", data={"timeout": "30"})
        )
        await tg.wait_for_poll()
        assert tg.is_polling
        poll.cancel()
    await tg.wait_for(lambda: tg.calls("getUpdates")[0].done, timeout=3)
    assert tg.calls("getUpdates")[0].status == 499
    assert not tg.is_polling


async def test_commands_menu_chat_and_misc(bot: Bot, tg: FakeTelegram) -> None:
    await bot.set_my_commands([BotCommand("start", "Démarrer"), BotCommand("aide", "Aide")])
    admin_scope = BotCommandScopeChat(42)
    await bot.set_my_commands(
        [BotCommand("export", "Exporter")], scope=admin_scope, language_code="fr"
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "aide"]
    scoped = await bot.get_my_commands(scope=admin_scope, language_code="fr")
    assert [c.command for c in scoped] == ["export"]
    assert tg.commands({"type": "chat", "chat_id": 42}, "fr")[0]["description"] == "Exporter"
    assert ({"type": "chat", "chat_id": 42}, "fr") in [
        (s, lang) for s, lang, _ in tg.command_sets()
    ]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start-Now", "x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()

    assert await bot.set_chat_menu_button(chat_id=42, menu_button=MenuButtonCommands())
    assert tg.calls("setChatMenuButton")[0].params["menu_button"] == {"type": "commands"}

    tg.send_text(42, "salut", first_name="Marie", username="marie_l")
    chat = await bot.get_chat(42)
    assert (chat.first_name, chat.username) == ("Marie", "marie_l")
    assert (await bot.get_chat("@marie_l")).id == 42
    assert isinstance(await bot.get_chat_member(-100, 42), ChatMemberMember)
    tg.set_chat_member(-100, 42, "administrator")
    assert isinstance(await bot.get_chat_member(-100, 42), ChatMemberAdministrator)

    assert await bot.send_chat_action(42, ChatAction.UPLOAD_DOCUMENT)
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(42, "dancing")

    sent = await bot.send_message(42, "à supprimer")
    assert await bot.delete_message(42, sent.message_id)
    assert tg.message(42, sent.message_id) is None
    assert tg.last_text(42) == "à supprimer"  # as sent, since it no longer exists
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(42, sent.message_id)


async def test_webhook_registration_and_posting(bot: Bot, tg: FakeTelegram) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[1:]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        received.append((headers, body))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    receiver = await asyncio.start_server(receive, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{receiver.sockets[0].getsockname()[1]}/hook"
        uid = tg.send_text(42, "/start")
        assert await bot.set_webhook(url, secret_token="s3cret", allowed_updates=["message"])
        assert tg.webhook is not None
        assert (tg.webhook.url, tg.webhook.secret_token) == (url, "s3cret")
        assert tg.webhook.allowed_updates == ["message"]
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count) == (url, 1)
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates(timeout=0)

        assert await tg.post_update_to_webhook() == 200  # oldest queued update, stored secret
        headers, body = received[-1]
        assert headers["x-telegram-bot-api-secret-token"] == "s3cret"
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == tg.update(uid)
        assert tg.pending_updates() == []

        update = {"message": tg.update(uid)["message"]}
        assert await tg.post_update_to_webhook(url, update, secret_token=None) == 200
        headers, body = received[-1]
        assert "x-telegram-bot-api-secret-token" not in headers
        assert json.loads(body)["update_id"] > uid

        assert await bot.delete_webhook()
        assert tg.webhook is None
        assert await bot.get_updates(timeout=0) == ()
    finally:
        receiver.close()
        await receiver.wait_closed()


async def test_wait_helpers(bot: Bot, tg: FakeTelegram) -> None:
    await bot.send_message(42, "visible")
    with pytest.raises(AssertionError, match=r"(?s)a editMessageText call.*#1 sendMessage -> 200"):
        await tg.wait_for_call("editMessageText", timeout=0.05)
    with pytest.raises(AssertionError, match="a message to chat 42 containing 'absent'"):
        await tg.wait_for_message(42, contains="absent", timeout=0.05)

    mark = tg.mark()
    sending = asyncio.create_task(bot.send_message(42, "plus tard"))
    call = await tg.wait_for_message(42, contains="tard", after_index=mark)
    assert call.index == mark and call.result["text"] == "plus tard"
    await sending
    failing = await tg.wait_for_call("sendMessage", lambda c: c.params["text"] == "visible")
    assert failing.index == 1

    tg.send_text(42, "bonjour")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_until_idle(quiet=0.05)  # the update was fetched, nothing else going on
    assert len(await poll) == 1


async def test_application_end_to_end(tg: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("Bienvenue ! Inclure ?", reply_markup=KB)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"Choix : {query.data}")

    app = Application.builder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_button))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        mark = tg.mark()
        tg.send_text(42, "/start")
        call = await tg.wait_for_message(42, contains="Bienvenue", after_index=mark)
        mid = call.result["message_id"]
        assert tg.inline_keyboard(42, mid) == KB.to_dict()["inline_keyboard"]

        pressed = tg.press_button_text(42, 42, mid, "Oui")
        edit = await tg.wait_for_call("editMessageText", after_index=mark)
        assert edit.ok
        assert tg.message(42, mid)["text"] == "Choix : yes"  # type: ignore[index]
        assert tg.inline_keyboard(42, mid) == []
        await tg.wait_for(lambda: tg.callback_answer(pressed) is not None)
        await tg.wait_until_idle(quiet=0.05)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    assert tg.pending_updates() == []  # PTB's last getUpdates confirmed everything
    methods = [c.method for c in tg.calls()]
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert not [c for c in tg.calls() if c.done and not c.ok and c.status != 499]


def test_thread_mode_with_sync_client() -> None:
    with FakeTelegram() as tg:
        with httpx.Client(base_url=f"{tg.base_url}{tg.token}/") as client:
            assert client.post("getMe").json()["result"]["username"] == BOT_USERNAME
            uid = tg.send_text(5, "ping")  # from the test thread
            updates = client.post("getUpdates", data={"timeout": "2"}).json()["result"]
            assert [u["update_id"] for u in updates] == [uid]
            markup = json.dumps(KB.to_dict())
            client.post(
                "sendMessage", data={"chat_id": "5", "text": "pong", "reply_markup": markup}
            )
        call = tg.run_sync(tg.wait_for_message(5, contains="pong"))
        assert call.params["reply_markup"] == KB.to_dict()
        assert tg.running
    assert not tg.running


async def test_thread_mode_from_another_loop() -> None:
    tg = FakeTelegram.start_in_thread()
    try:
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=5))
            await tg.wait_for(lambda: tg.is_polling)  # bridged to the server's loop
            uid = tg.send_text(9, "/aide")
            (update,) = await poll
            assert update.update_id == uid
            await bot.send_message(9, "Aide : ...")
            call = await tg.wait_for_message(9, contains="Aide")
            assert call.ok
    finally:
        tg.stop_thread()
    assert not tg.running
