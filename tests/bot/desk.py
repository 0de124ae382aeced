"""The bot's real routes driven in-process, as the console does (bot/cli/console.py): a command, a
typed message or a tapped button goes through the routing table and the role gate to the
real flow; every reply is then "delivered" (bot/telegram/delivery.py records the prompt it shows, so
typed text answers the question the user saw). Each user's buttons on screen are kept, by
message, so a test taps what a user could tap. The reminder sender runs with `sweep`.

Used by the replay test and the stateful test (issue 22)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from bot import callback_data as cd
from bot.app import routes
from bot.callback_data import prefix_of
from bot.common import Actor, Button, Context, DuplicateUpdate, Out, allowed
from bot.reminders import state, sweep
from bot.routing import Routes
from bot.telegram import delivery
from storage import screenings as store
from storage import users as user_store


@dataclass
class Shown:
    """A message a user has on screen with buttons."""

    message_id: int
    text: str
    buttons: list[Button]


@dataclass
class Desk:
    ctx: Context
    table: Routes = field(default_factory=routes)
    #: user → message id → the message with its buttons (an edit replaces them).
    screens: dict[int, dict[int, Shown]] = field(default_factory=dict)
    replies: dict[int, list[Out]] = field(default_factory=dict)  # each user's last replies
    sent: list[tuple[int, str]] = field(default_factory=list)  # the reminder sender's messages
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def actor(self, user_id: int, message_id: int | None = None) -> Actor:
        user = await self.ctx.db.read(user_store.get_user, user_id)
        return Actor(user_id, user_id, True, user, update_id=next(self._ids),
                     message_id=message_id)  # fmt: skip

    async def _show(self, user_id: int, outs: list[Out]) -> list[Out]:
        screen = self.screens.setdefault(user_id, {})
        for out in outs:
            if out.edit is not None:
                if out.edit in screen:
                    screen[out.edit] = Shown(
                        out.edit, out.text, [b for r in out.buttons for b in r]
                    )
                continue
            if out.text and out.buttons:
                message_id = next(self._ids)
                screen[message_id] = Shown(
                    message_id, out.text, [b for r in out.buttons for b in r]
                )
        await delivery.printed(self.ctx, outs)
        self.replies[user_id] = outs
        return outs

    async def command(self, user_id: int, text: str) -> list[Out]:
        head, *args = text.split()
        name = head[1:].lower()
        actor = await self.actor(user_id)
        flow = self.table.commands.get(name)
        if flow is None or not allowed(actor.user, name):
            return await self._show(user_id, [Out("?refused")])
        try:
            return await self._show(user_id, await flow(self.ctx, actor, args))
        except DuplicateUpdate:  # pragma: no cover - every update id is new
            return []

    async def type(self, user_id: int, text: str) -> list[Out]:
        actor = await self.actor(user_id)
        session = await self.ctx.db.read(store.get_session, user_id, user_id)
        mode = session.mode if session else "screen"
        needs, flow = self.table.text_modes.get(mode, self.table.text_modes["screen"])
        if not allowed(actor.user, needs):
            return await self._show(user_id, [Out("?refused")])
        return await self._show(user_id, await flow(self.ctx, actor, text))

    async def tap(self, user_id: int, shown: Shown, button: Button) -> list[Out]:
        actor = await self.actor(user_id, shown.message_id)
        prefix = prefix_of(button.data)
        route = self.table.callbacks.get(prefix) if prefix else None
        assert route is not None, button.data
        needs, flow = route
        if not allowed(actor.user, needs):
            return await self._show(user_id, [Out("?refused")])
        return await self._show(user_id, await flow(self.ctx, actor, button.data))

    def buttons(
        self, user_id: int, where: Callable[[object], bool] = lambda _: True
    ) -> list[tuple[Shown, Button]]:
        """The buttons this user has on screen (newest message first) whose decoded data
        satisfies `where`."""
        found = []
        for shown in sorted(self.screens.get(user_id, {}).values(), key=lambda s: -s.message_id):
            for button in shown.buttons:
                decoded = cd.decode(button.data)
                if decoded is not None and where(decoded):
                    found.append((shown, button))
        return found

    async def tap_first(self, user_id: int, where: Callable[[object], bool]) -> list[Out]:
        """Tap the newest button on this user's screen that satisfies `where` (one must)."""
        candidates = self.buttons(user_id, where)
        assert candidates, f"no such button on the screen of {user_id}"
        return await self.tap(user_id, *candidates[0])

    async def sweep(self, now: dt.datetime) -> state.SweepResult:
        """The reminder sender at `now` (window closes, abandonments, notices)."""

        async def send(chat_id: int, text: str, buttons: list[list[Button]]) -> int:
            self.sent.append((chat_id, text))
            message_id = next(self._ids)
            flat = [b for row in buttons for b in row]
            if flat and chat_id > 0:
                self.screens.setdefault(chat_id, {})[message_id] = Shown(message_id, text, flat)
            return message_id

        return await sweep.sweep(self.ctx, now, send)


def text_of(outs: list[Out]) -> str:
    return "\n".join(o.text for o in outs if o.text)


# --- a screening answered as a clinician answers it ----------------------------------------

#: How a clinician answers each question of an eligible male patient: ("tap", button value)
#: or ("type", text); dates are "days before today" (`ago:N`), computed from the clock.
ELIGIBLE_PLAN: dict[str, tuple[str, str]] = {
    "index_date": ("type", "ago:2"),
    "admission_date": ("tap", "ago:1"),
    "diagnosis_confirmed": ("tap", "yes"),
    "age": ("type", "54"),
    "ward": ("tap", "icu"),
    "max_bsa_percent": ("type", "35 %"),
    "sex": ("tap", "male"),
    "pregnant_or_breastfeeding": ("tap", "no"),
    "malignancy_10y_or_metastasis": ("tap", "no"),
    "hiv_positive": ("tap", "no"),
    "active_hepatitis_b_or_c": ("tap", "no"),
    "sars_cov2_positive": ("tap", "no"),
    "decompensated_heart_failure": ("tap", "no"),
    "uncontrolled_epilepsy": ("tap", "no"),
    "prior_allogeneic_bmt": ("tap", "no"),
    "other_interventional_trial": ("tap", "no"),
    "deprived_of_liberty": ("tap", "no"),
    "compliance_concern": ("tap", "no"),
    "tutorship_or_curatorship": ("tap", "no"),
    "psychiatric_care_l1121_6": ("tap", "no"),
    "social_security": ("tap", "yes"),
    "consent": ("tap", "obtained"),
    "consent_by": ("tap", "patient"),
    "weight_kg": ("type", "72,5"),
}
SCORTEN_PLAN = {"heart_rate": "125", "urea": "12", "bicarbonate": "22", "glucose": "8"}


def local_day(desk: Desk, days_ago: int) -> dt.date:
    now = desk.ctx.now().astimezone(desk.ctx.zone)
    return now.date() - dt.timedelta(days=days_ago)


async def answer(desk: Desk, user_id: int, question_id: str, how: tuple[str, str]) -> list[Out]:
    """Answer the question `question_id` (on this user's screen) the way `how` says."""
    kind, value = how
    if value.startswith("ago:"):
        day = local_day(desk, int(value[4:]))
        value = day.strftime("%d/%m/%Y") if kind == "type" else day.isoformat()
    if kind == "type":
        return await desk.type(user_id, value)
    return await desk.tap_first(
        user_id,
        lambda b: isinstance(b, cd.Answer) and b.question_id == question_id and b.value == value,
    )


async def step(
    desk: Desk,
    user_id: int,
    number: str,
    plan: dict[str, tuple[str, str]],
    scorten: dict[str, str] | None = None,
) -> bool:
    """One step of screening `number` as `plan` says (answer, confirm the exclusion, confirm
    the summary, a SCORTEN value); False once nothing is left to do."""
    s = await desk.ctx.db.read(store.get_by_number, number)
    assert s is not None
    if s.stage == "question" and s.status == store.IN_SCREENING and s.cursor:
        await answer(desk, user_id, s.cursor, plan[s.cursor])
    elif s.stage == "confirm_exclusion":
        await desk.tap_first(user_id, lambda b: isinstance(b, cd.Exclusion) and b.action == "ok")
    elif s.stage == "summary":
        await desk.tap_first(user_id, lambda b: isinstance(b, cd.Summary) and b.action == "ok")
    elif s.stage == "scorten":
        measure = (s.cursor or "heart_rate").partition("@")[0]
        await desk.type(user_id, (scorten or SCORTEN_PLAN)[measure])
    else:
        return False
    return True


async def screen_through(
    desk: Desk,
    user_id: int,
    plan: dict[str, tuple[str, str]] | None = None,
    number: str | None = None,
) -> str:
    """/screen (or, with `number`, the screening already on this user's screen) answered to
    its end the way `plan` says; returns its number."""
    plan = {**ELIGIBLE_PLAN, **(plan or {})}
    if number is None:
        outs = await desk.command(user_id, "/screen")
        if any(b for o in outs for row in o.buttons for b in row
               if isinstance(cd.decode(b.data), cd.ScreenChoice)):  # fmt: skip
            outs = await desk.tap_first(
                user_id, lambda b: isinstance(b, cd.ScreenChoice) and b.action == "new"
            )

        def on_screen(conn: Connection) -> store.Screening | None:
            session = store.get_session(conn, user_id, user_id)
            assert session is not None and session.screening_id is not None
            return store.get_by_id(conn, session.screening_id)

        opened = await desk.ctx.db.read(on_screen)
        assert opened is not None
        number = opened.number
    for _ in range(60):
        if not await step(desk, user_id, number, plan):
            return number
    raise AssertionError(f"{number}: the screening did not end")
