"""Routes and lifecycle hooks as data: what each feature module exports, and the tables the
composition root (bot/app.py) builds from them.

A feature module (bot/flows/*, the reminder sender, the backups…) exports one `Feature`: its
commands, its callback-data prefixes (bot/callback_data.py `Prefix`) and the text modes of
its sessions (each with the command whose role it needs: the access gate in bot/telegram/handlers.py
checks it), and its start and stop hooks. Nothing registers itself on import: `build_routes` is called once, by the
composition root, with the list of features, and refuses a prefix, command or mode claimed
twice, or a command without a role in `bot.common.COMMAND_ROLES` (DESIGN.md's roles table).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.callback_data import Prefix
from bot.common import COMMAND_ROLES, Actor, Context, Out

CommandFlow = Callable[[Context, Actor, list[str]], Awaitable[list[Out]]]
#: `flow(ctx, actor, request_id, people)`: people = (telegram id, full name, username).
SharedUsersFlow = Callable[
    [Context, Actor, int, list[tuple[int, str | None, str | None]]], Awaitable[list[Out]]
]
CallbackFlow = Callable[[Context, Actor, str], Awaitable[list[Out]]]
TextFlow = Callable[[Context, Actor, str], Awaitable[list[Out]]]
#: `await hook(application, ctx)` once the bot's context is open.
StartHook = Callable[[Any, Context], Awaitable[None]]
#: `await hook(application, ctx)` at stop (ctx is None if start-up failed).
StopHook = Callable[[Any, Context | None], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    flow: CommandFlow


@dataclass(frozen=True)
class Callback:
    prefix: Prefix  # the callback data up to its first ':' (bot/callback_data.py)
    needs: str  # the command whose role a user needs to press it
    flow: CallbackFlow


@dataclass(frozen=True)
class TextMode:
    mode: str  # the chat session's mode (storage/screenings.py `Session.mode`)
    needs: str  # the command whose role a user needs to type in it
    flow: TextFlow


@dataclass(frozen=True)
class DeepLink:
    """`/start <prefix>…` (a link `https://t.me/<bot>?start=<payload>`): served to anyone,
    listed or not, in any chat — the flow checks everything itself (issue 24: invitations)."""

    prefix: str
    flow: CommandFlow  # called with [payload]


@dataclass(frozen=True)
class SharedUsers:
    """A person chosen with Telegram's contact picker (`message.users_shared`)."""

    needs: str  # the command whose role a user needs to share
    flow: SharedUsersFlow


@dataclass(frozen=True)
class Feature:
    name: str
    commands: tuple[Command, ...] = ()
    callbacks: tuple[Callback, ...] = ()
    text_modes: tuple[TextMode, ...] = ()
    on_start: tuple[StartHook, ...] = ()
    on_stop: tuple[StopHook, ...] = ()
    deep_links: tuple[DeepLink, ...] = ()
    shared_users: SharedUsers | None = None


@dataclass(frozen=True)
class Routes:
    """The dispatch tables of one Application (or of the console)."""

    commands: Mapping[str, CommandFlow]
    callbacks: Mapping[Prefix, tuple[str, CallbackFlow]]  # prefix → (command whose role, flow)
    text_modes: Mapping[str, tuple[str, TextFlow]]  # mode → (command whose role, flow)
    on_start: tuple[StartHook, ...]
    on_stop: tuple[StopHook, ...]
    deep_links: Mapping[str, CommandFlow] = field(default_factory=dict)  # payload prefix → flow
    shared_users: SharedUsers | None = None

    def deep_link(self, payload: str) -> CommandFlow | None:
        return next((f for p, f in self.deep_links.items() if payload.startswith(p)), None)


class RoutingError(ValueError):
    """Two features claim the same command, prefix or mode, or a role is missing."""


def build_routes(features: Iterable[Feature]) -> Routes:
    commands: dict[str, CommandFlow] = {}
    callbacks: dict[Prefix, tuple[str, CallbackFlow]] = {}
    text_modes: dict[str, tuple[str, TextFlow]] = {}
    on_start: list[StartHook] = []
    on_stop: list[StopHook] = []
    deep_links: dict[str, CommandFlow] = {}
    shared_users: SharedUsers | None = None
    owner: dict[str, str] = {}

    def claim(key: str, feature: Feature) -> None:
        if key in owner:
            raise RoutingError(f"{key} is routed by both {owner[key]} and {feature.name}")
        owner[key] = feature.name

    for feature in features:
        for command in feature.commands:
            claim(f"/{command.name}", feature)
            commands[command.name] = command.flow
        for callback in feature.callbacks:
            claim(f"callback {callback.prefix}:", feature)
            callbacks[callback.prefix] = (callback.needs, callback.flow)
        for text in feature.text_modes:
            claim(f"text mode {text.mode}", feature)
            text_modes[text.mode] = (text.needs, text.flow)
        on_start.extend(feature.on_start)
        on_stop.extend(feature.on_stop)
        for link in feature.deep_links:
            claim(f"deep link {link.prefix}", feature)
            deep_links[link.prefix] = link.flow
        if feature.shared_users is not None:
            claim("shared users", feature)
            shared_users = feature.shared_users

    unrouted = set(COMMAND_ROLES) - set(commands)
    if unrouted:
        raise RoutingError(f"commands with a role but no route: {sorted(unrouted)}")
    needs = {n for n, _ in (*callbacks.values(), *text_modes.values())} | set(commands)
    if shared_users is not None:
        needs.add(shared_users.needs)
    roleless = needs - set(COMMAND_ROLES)
    if roleless:
        raise RoutingError(f"routes whose command has no role: {sorted(roleless)}")
    return Routes(commands, callbacks, text_modes, tuple(on_start), tuple(on_stop), deep_links,
                  shared_users)  # fmt: skip
