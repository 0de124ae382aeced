"""`lysyme-bot console`: the screening flow in a terminal, offline — the demo a newcomer runs
first. Same flows and core as the Telegram bot; buttons are numbered and chosen by typing `/`
and their number (`/1`), so that a plain number is always an answer (a BSA of 1, an urea of
2), never a button. The console user is a local admin (user id 0), granted with an audit row.

Its own demo database by default (`lysyme-demo.sqlite3`), so a demo never writes into the
production one; LYSYME_DATABASE, when set, is used instead (the same lock and anchor checks as
`run`: refused while the bot runs on it)."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy import Connection

from bot.app import open_context, routes
from bot.callback_data import prefix_of
from bot.common import Actor, Button, Context, DuplicateUpdate, Out, allowed
from bot.routing import Routes
from bot.settings import Settings
from bot.telegram import delivery
from storage import users as user_store
from storage.audit import AuditEntry, append_audit

CONSOLE_USER = 0
DEMO_DATABASE = Path("lysyme-demo.sqlite3")
_TAGS = re.compile(r"</?(b|i|code)>")


def plain(text: str) -> str:
    import html

    return html.unescape(_TAGS.sub("", text))


def save_files(outs: list[Out], folder: Path, lang: str) -> list[Out]:
    """The files of `outs` (documents of /export, charts of /stats) written into `folder`
    (owner-readable only, as `lysyme-bot export` writes them); each replaced by its caption
    and a line with its path, in the user's language."""
    from bot.texts import t
    from bot.views.export import write_private

    shown: list[Out] = []
    for index, out in enumerate(outs, start=1):
        if out.document is None and out.photo is None:
            shown.append(out)
            continue
        if out.document is not None:
            name, content = out.document
        else:
            assert out.photo is not None
            name, content = out.photo_name or f"lysyme-chart-{index}.png", out.photo
        path = folder / Path(name).name  # a name, never a path out of the folder
        try:
            write_private(path, content)
        except OSError as exc:
            line = t(lang, "con.cannot_write", path=path, problem=exc.strerror or str(exc))
        else:
            line = t(lang, "con.written", path=path.resolve())
        shown.append(Out("\n".join(text for text in (out.text, line) if text)))
    return shown


async def console(
    settings: Settings,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    folder: Path | None = None,
) -> int:
    """The console; the files of /export and /stats go into `folder` (the working folder)."""
    folder = folder if folder is not None else Path.cwd()
    table = routes()
    ctx: Context = await open_context(settings)
    now = ctx.now()

    def console_admin(conn: Connection) -> None:
        old, new = user_store.grant_roles(conn, CONSOLE_USER, {"admin"}, "console", now)
        if old != new:
            append_audit(
                conn,
                AuditEntry(now, "console", "user_added", None, str(CONSOLE_USER),
                           ",".join(sorted(old)) or None, ",".join(sorted(new)), "console user"),
            )  # fmt: skip

    await ctx.db.write(console_admin)
    buttons: list[Button] = []

    def show(outs: list[Out]) -> None:
        nonlocal buttons
        for out in outs:
            if out.toast:
                print(f"  ({plain(out.toast)})", file=stdout)
            if out.text:
                print(plain(out.text), file=stdout)
            if out.buttons:
                buttons = [b for row in out.buttons for b in row]
                for n, b in enumerate(buttons, 1):
                    print(f"  [/{n}] {b.label}", file=stdout)
        print(file=stdout)

    from bot.texts import t

    console_user = await ctx.db.read(user_store.get_user, CONSOLE_USER)
    print(t(ctx.language_of(console_user), "con.welcome") + "\n", file=stdout)
    try:
        while True:
            stdout.write("> ")
            stdout.flush()
            line = stdin.readline()
            if not line:
                break
            text = line.strip()
            user = await ctx.db.read(user_store.get_user, CONSOLE_USER)
            actor = Actor(CONSOLE_USER, CONSOLE_USER, True, user, None, None, None)
            try:
                outs = await _dispatch(ctx, table, actor, text, buttons)
                show(save_files(outs, folder, ctx.language(actor)))
                await delivery.printed(ctx, outs)  # shown: typed text answers that prompt
            except DuplicateUpdate:
                continue
    finally:
        await ctx.db.close()
    return 0


_BUTTON = re.compile(r"^/([0-9]{1,3})$")


async def _dispatch(
    ctx: Context, table: Routes, actor: Actor, text: str, buttons: list[Button]
) -> list[Out]:
    chosen = _BUTTON.match(text)
    if chosen is not None:
        if not 1 <= int(chosen[1]) <= len(buttons):
            return [Out(f"? /1 … /{len(buttons)}" if buttons else "?")]
        data = buttons[int(chosen[1]) - 1].data
        prefix = prefix_of(data)
        route = table.callbacks.get(prefix) if prefix else None
        if route is None:
            return []
        return await route[1](ctx, actor, data)
    if text.startswith("/"):
        head, *args = text.split()
        name = head[1:].lower()
        flow = table.commands.get(name)
        if flow is None or not allowed(actor.user, name):
            return [Out("?")]
        return await flow(ctx, actor, args)
    from storage import screenings as store

    session = await ctx.db.read(store.get_session, actor.user_id, actor.chat_id)
    mode = session.mode if session else "screen"
    _, flow_text = table.text_modes.get(mode, table.text_modes["screen"])
    return await flow_text(ctx, actor, text)


def console_settings(settings: Settings) -> Settings:
    """The demo database unless LYSYME_DATABASE was set explicitly."""
    if "database" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"database": DEMO_DATABASE})


def main(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.command_line import fail
    from bot.cli.commands import claim_database
    from storage.anchor import DatabaseRefused

    settings = console_settings(settings)
    claim_database("console", settings.database)
    try:
        return asyncio.run(console(settings))
    except DatabaseRefused as exc:  # e.g. a PostgreSQL server that does not answer
        fail(f"console: {exc}")
