"""Telegram's shape of a message: inline keyboards from `Button`s, and long texts split under
the 4,096-character limit (used by the handlers, the sender and the morning board)."""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestUsers,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.common import Out


def keyboard(out: Out) -> InlineKeyboardMarkup | None:
    if not out.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in out.buttons]
    )


def reply_markup(
    out: Out,
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """A new message's keyboard: Telegram's contact picker (issue 24), or inline buttons."""
    if out.pickers:
        rows = [
            [KeyboardButton(label, request_users=KeyboardButtonRequestUsers(
                request_id, user_is_bot=False, max_quantity=1, request_name=True,
                request_username=True))]
            for label, request_id in out.pickers
        ]  # fmt: skip
        return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)
    if out.drop_keyboard:
        return ReplyKeyboardRemove()
    return keyboard(out)


def split_message(text: str, limit: int = 4096) -> list[str]:
    """Split at line breaks under Telegram's 4,096-character limit."""
    if len(text) <= limit:
        return [text]
    chunks, current = [], ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks
