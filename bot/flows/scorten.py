"""The SCORTEN questions asked after an eligible or pending result: one measure at a time, its
unit asked when a typed value could be in either, the score once every measure is in."""

from __future__ import annotations

from sqlalchemy import Connection

from bot import callback_data as cd
from bot.common import Actor, Button, Context, Out
from bot.present import error_text, number_text
from bot.records import begin
from bot.texts import t
from bot.views.wording import scorten_summary
from conversations.answers import AnswerError, to_json
from conversations.lifecycle import Stage
from conversations.scorten import (
    MEASURE_BY_ID,
    MEASURE_IDS,
    Reading,
    Unit,
    read_measure,
    reading_in,
)
from storage import screenings as store
from storage.audit import AuditEntry, append_audit
from storage.screenings import Screening


def _cursor(measure: str, unit: str) -> str:
    return f"{measure}@{unit}"


def parse_cursor(cursor: str | None) -> tuple[str, str]:
    measure, _, unit = (cursor or "heart_rate").partition("@")
    if measure not in MEASURE_BY_ID:
        measure = "heart_rate"
    units = [u.value for u in MEASURE_BY_ID[measure].units]
    return measure, unit if unit in units else units[0]


def scorten_prompt(lang: str, screening: Screening, cursor: str, _unit: str = "") -> Out:
    measure, unit = parse_cursor(cursor)
    rows = [
        [Button(t(lang, "c.not_available"), cd.encode(cd.Scorten(screening.id, measure, "na")))]
    ]
    for other in MEASURE_BY_ID[measure].units:
        if other.value != unit:
            switch = cd.Scorten(screening.id, measure, _unit_code(other))
            rows.insert(0, [Button(t(lang, "scorten.switch_unit", unit=other.value),
                                   cd.encode(switch))])  # fmt: skip
    text = f"<b>{screening.number}</b> · SCORTEN\n" + t(lang, f"scorten.{measure}", unit=unit)
    return Out(text, rows, prompt_for=screening.id, shows=store.prompt_key(Stage.SCORTEN, measure))


def _unit_code(unit: Unit) -> cd.UnitCode:
    return "gl" if unit is Unit.G_L else "mm"


_UNITS: dict[cd.UnitCode, Unit] = {"gl": Unit.G_L, "mm": Unit.MMOL_L}


def parse_measure_text(
    lang: str, screening: Screening, text: str
) -> tuple[str, float, str, str] | list[Out]:
    """A typed SCORTEN value for the measure the screening waits for: (measure, value in
    mmol/L or /min — unrounded, what was entered (audited), the echo), or the messages to send
    instead: why it was not understood, or which unit was meant. Pure."""
    measure, unit = parse_cursor(screening.cursor)
    try:
        reading = read_measure(measure, text, Unit(unit))
    except AnswerError as exc:
        return [Out(t(lang, "screen.invalid", problem=error_text(lang, exc))),
                scorten_prompt(lang, screening, screening.cursor or "")]  # fmt: skip
    if reading.ask_unit is not None:
        return [which_unit_prompt(lang, screening, reading)]
    return measure, reading.value, entered_text(reading), measure_echo(lang, reading)


def entered_text(reading: Reading) -> str:
    return f"{reading.number:g} {reading.unit.value}"


def measure_echo(lang: str, reading: Reading) -> str:
    """`✓ Glycémie : 14 mmol/L (2,523 g/L)`: what was understood, converted when it was."""
    value = f"{number_text(lang, reading.value, 2)} {MEASURE_BY_ID[reading.measure].units[0]}"
    if reading.unit is Unit.G_L:
        value += f" ({number_text(lang, reading.number)} {reading.unit.value})"
    name = t(lang, f"scorten.short.{reading.measure}")
    return t(lang, "scorten.recorded", name=name, value=value)


def which_unit_prompt(lang: str, screening: Screening, reading: Reading) -> Out:
    """The number is implausible in the unit shown but plausible in the other: ask, with one
    button per unit (the number travels in the button and is checked again when tapped)."""
    assert reading.ask_unit is not None
    buttons = []
    for unit in (reading.unit, reading.ask_unit):
        label = t(lang, "scorten.unit_button", number=number_text(lang, reading.number),
                  unit=unit.value)  # fmt: skip
        meant = cd.ScortenUnit(screening.id, reading.measure, _unit_code(unit), reading.number)
        buttons.append(Button(label, cd.encode(meant)))
    text = t(lang, "scorten.which_unit", typed=number_text(lang, reading.number),
             unit=reading.unit.value, name=t(lang, f"scorten.short.{reading.measure}").lower())  # fmt: skip
    return Out(text, [buttons], prompt_for=screening.id)


async def scorten_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`m:<screening id>:<measure>:na|gl|mm`, or `m:<id>:<measure>:v:gl|mm:<number>` (the unit
    meant for a value that was implausible in the unit shown) — one write transaction."""
    lang = ctx.language(actor)
    button = cd.decode(data)
    if not isinstance(button, cd.Scorten | cd.ScortenUnit):
        return [Out("", toast=t(lang, "screen.stale"))]

    def body(conn: Connection) -> list[Out]:
        screening = store.get_by_id(conn, button.screening_id)
        if screening is None or screening.stage != Stage.SCORTEN:
            return [Out("", toast=t(lang, "screen.stale"))]
        measure, _ = parse_cursor(screening.cursor)
        if measure != button.measure:
            return [Out("", toast=t(lang, "screen.stale"))]
        if isinstance(button, cd.ScortenUnit):
            unit = _UNITS[button.unit]
            try:
                reading = reading_in(measure, button.number, unit)
            except AnswerError as exc:
                return [Out(t(lang, "screen.invalid", problem=error_text(lang, exc))),
                        scorten_prompt(lang, screening, screening.cursor or "")]  # fmt: skip
            return store_measure(conn, ctx, actor, screening, measure, reading.value,
                                       entered_text(reading), measure_echo(lang, reading))  # fmt: skip
        if button.action != "na":
            unit = _UNITS[button.action]
            if unit not in MEASURE_BY_ID[measure].units:
                return [Out("", toast=t(lang, "screen.stale"))]
            store.update_screening(conn, screening.id, ctx.now(),
                                         cursor=_cursor(measure, unit.value))  # fmt: skip
            return [scorten_prompt(lang, screening, _cursor(measure, unit.value))]
        return store_measure(conn, ctx, actor, screening, measure, None, "not available")

    return await ctx.db.write(body)


def store_measure(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    screening: Screening | None,
    measure: str,
    value: float | None,
    entered: str,
    echo: str | None = None,
) -> list[Out]:
    """Store one SCORTEN value with its audit row, inside the caller's write transaction
    (`screening` read in it), and move to the next measure or the SCORTEN result; `echo`
    (what was understood) comes first."""
    lang = ctx.language(actor)
    now = ctx.now()
    begin(conn, actor, now)
    if screening is None or screening.stage != Stage.SCORTEN:
        return [Out("", toast=t(lang, "screen.stale"))]
    if parse_cursor(screening.cursor)[0] != measure:
        return [Out("", toast=t(lang, "screen.stale"))]
    shown = [Out(echo)] if echo else []
    stored = to_json(value) if value is not None else "null"
    store.add_answer(conn, screening.id, f"scorten:{measure}", stored,
                           by=actor.user_id, now=now, source="scorten")  # fmt: skip
    append_audit(
        conn,
        AuditEntry(now, str(actor.user_id), "scorten", screening.number,
                   f"scorten:{measure}", None, stored, entered),
    )  # fmt: skip
    position = MEASURE_IDS.index(measure)
    if position + 1 < len(MEASURE_IDS):
        following = MEASURE_IDS[position + 1]
        cursor = _cursor(following, MEASURE_BY_ID[following].units[0].value)
        store.update_screening(conn, screening.id, now, cursor=cursor)
        return [*shown, scorten_prompt(lang, screening, cursor)]
    store.update_screening(conn, screening.id, now, stage=Stage.DONE, cursor=None)
    store.clear_session(conn, actor.user_id, actor.chat_id)
    return [*shown, Out(scorten_summary(conn, lang, screening))]
