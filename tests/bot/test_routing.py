"""The composition root: every command of DESIGN.md's roles table is routed, nothing is
claimed twice, and the features' hooks run in a deliberate order."""

from __future__ import annotations

import pytest

from bot import app, backups
from bot.common import COMMAND_ROLES, Actor, Context, Out
from bot.reminders import board as reminders_board
from bot.reminders import delivery as reminder_delivery
from bot.reminders.sender import start_sender, stop_sender
from bot.routing import Callback, Command, Feature, RoutingError, TextMode, build_routes


async def _flow(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    return []


async def _button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    return []


def every_command() -> Feature:
    return Feature("all", commands=tuple(Command(name, _flow) for name in COMMAND_ROLES))


def test_the_bot_routes_every_command_of_the_roles_table_and_nothing_else() -> None:
    table = app.routes()
    assert set(table.commands) == set(COMMAND_ROLES)
    assert "screen" in table.text_modes  # typed answers of a screening
    for prefix, (needs, _) in table.callbacks.items():
        assert needs in COMMAND_ROLES, prefix
    for mode, (needs, _) in table.text_modes.items():
        assert needs in COMMAND_ROLES, mode


def test_hooks_run_once_each_the_bots_username_first() -> None:
    table = app.routes()
    assert table.on_start[0] is reminder_delivery.remember_username
    for hook in (start_sender, reminders_board.start_board, backups.start):
        assert table.on_start.count(hook) == 1
    for hook in (stop_sender, reminders_board.stop_board, backups.stop):
        assert table.on_stop.count(hook) == 1


def test_building_twice_gives_the_same_tables() -> None:
    first, second = app.routes(), app.routes()
    assert first.commands.keys() == second.commands.keys()
    assert first.on_start == second.on_start


@pytest.mark.parametrize(
    "extra",
    [
        Feature("again", commands=(Command("screen", _flow),)),
        Feature("again", callbacks=(Callback("a", "screen", _button),)),
        Feature("again", text_modes=(TextMode("screen", "screen", _button),)),
    ],
)
def test_a_route_claimed_twice_is_refused_naming_both_features(extra: Feature) -> None:
    with pytest.raises(RoutingError, match="both"):
        build_routes([*app.FEATURES, extra])


def test_a_command_with_a_role_but_no_route_is_refused() -> None:
    without_screen = Feature(
        "most", commands=tuple(Command(n, _flow) for n in COMMAND_ROLES if n != "screen")
    )
    with pytest.raises(RoutingError, match="screen"):
        build_routes([without_screen])


def test_a_route_whose_command_has_no_role_is_refused() -> None:
    stray = Feature("stray", callbacks=(Callback("zz", "teleport", _button),))
    with pytest.raises(RoutingError, match="teleport"):
        build_routes([every_command(), stray])
