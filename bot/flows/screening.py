"""The screening conversation: /screen, one question at a time, back, cancel, resume, the
exclusion confirmation, the summary and the result.

Flow: `/screen` opens a number and asks the first question → each answer (a tapped button or
typed text) is parsed by the core, committed with its audit row, then the next question is
sent → an answer that excludes the patient is confirmed first → when everything is answered,
a summary with Confirm / Change an answer → the result (eligible / pending / not eligible,
dose, D0 deadline), the team notice and reminders (written in the same transaction) → the
SCORTEN values for eligible or pending patients.

The position lives in the database (`screenings.stage` / `cursor`), so a restarted bot
continues where it was; every callback is checked against it (screening, question, value).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from bot import callback_data as cd
from bot import routing
from bot.callback_data import Prefix
from bot.common import Actor, Button, Context, Out, chat_session
from bot.criteria import criterion_question, criterion_short_name, verdict_sentences
from bot.flows import scorten
from bot.present import answer_text, echo_text, error_text
from bot.records import (
    Loaded,
    abandon,
    audit,
    begin,
    load,
    load_by_id,
    record_answer,
)
from bot.reminders import closing as outcomes
from bot.texts import t
from conversations import flow, versions
from conversations.answers import AnswerError, from_json, parse_text, to_json
from conversations.eligibility import Outcome, evaluate
from conversations.lifecycle import Stage
from conversations.protocol import (
    BY_ID,
    QUESTIONS,
    AnswerValue,
    Kind,
    applicable_questions,
)
from conversations.windows import local_today
from storage import screenings as store
from storage.audit import append_audit
from storage.screenings import Screening
from storage.sql import after_commit

SCREEN_MODE = "screen"


# --- asking -------------------------------------------------------------------------------


def question_text(lang: str, question_id: str) -> str:
    text = criterion_question(lang, question_id)
    hint_key = f"h.{question_id}"
    hint = t(lang, hint_key)
    return text if hint == hint_key else f"{text}\n<i>{hint}</i>"


def ask(
    lang: str, loaded: Loaded, question_id: str, prefix: str = "", today: dt.date | None = None
) -> Out:
    """The question on screen. `today` puts their date on the date buttons ("Today 29/11")."""
    s = loaded.screening
    position, total = flow.progress(loaded.answers, question_id)
    lines = [t(lang, "screen.progress", number=s.number, position=position, total=total)]
    lines.append(question_text(lang, question_id))
    current = loaded.answers.get(question_id)
    if current is not None:
        lines.append(
            t(lang, "screen.current_answer", value=answer_text(lang, question_id, current))
        )
    text = (prefix + "\n\n" if prefix else "") + "\n".join(lines)
    buttons = answer_buttons(lang, s.id, question_id, today, current)
    return Out(text, buttons, prompt_for=s.id, shows=store.prompt_key(Stage.QUESTION, question_id))


def not_shown(lang: str, loaded: Loaded, prompt: Out) -> list[Out]:
    """Typed text while the question waiting for it was never delivered (the reply after the
    previous answer failed): not an answer to a question the clinician did not see. Say that
    the previous answer was recorded (and what it was), and show the question again."""
    s = loaded.screening
    previous = None
    if s.stage == Stage.QUESTION:
        previous = flow.previous_question(loaded.answers, s.cursor)
    if previous is not None and previous in loaded.answers:
        line = t(lang, "screen.previous_recorded", number=s.number,
                 question=_raw(question_text(lang, previous).splitlines()[0]),
                 answer=answer_text(lang, previous, loaded.answers[previous]))  # fmt: skip
    else:
        line = t(lang, "screen.not_shown", number=s.number)
    return [Out(line), prompt]


def answer_buttons(
    lang: str,
    screening_id: int,
    question_id: str,
    today: dt.date | None = None,
    current: AnswerValue | None = None,
) -> list[list[Button]]:
    q = BY_ID[question_id]

    def button(value: str, label: str | None = None) -> Button:
        data = cd.encode(cd.Answer(screening_id, question_id, value))
        return Button(label or t(lang, f"c.{value}"), data)

    rows: list[list[Button]] = []
    if q.kind is Kind.BOOLEAN:
        rows.append([button("yes"), button("no")])
    elif q.kind is Kind.CHOICE:
        rows.append([button(c) for c in q.choices[:3]])
        if len(q.choices) > 3:
            rows.append([button(c) for c in q.choices[3:]])
    elif q.kind is Kind.DATE:
        if today is None:
            rows.append([button("today"), button("yesterday")])
        else:
            # The button carries its date: tapped after midnight, "Yesterday 28/11" is 28/11.
            yesterday = today - dt.timedelta(days=1)
            rows.append([
                button(today.isoformat(), t(lang, "c.today_on", date=today.strftime("%d/%m"))),
                button(yesterday.isoformat(),
                       t(lang, "c.yesterday_on", date=yesterday.strftime("%d/%m"))),
            ])  # fmt: skip
    if current is not None and q.kind in (Kind.INTEGER, Kind.NUMBER, Kind.DATE):
        # Back at a typed question: keep the answer without retyping it.
        keep = t(lang, "screen.keep", value=answer_text(lang, question_id, current))
        rows.append([button("keep", keep)])
    if question_id != QUESTIONS[0].id:
        rows.append([Button(t(lang, "screen.back"), cd.encode(cd.Back(screening_id, question_id)))])
    return rows


def summary(lang: str, loaded: Loaded) -> Out:
    s = loaded.screening
    colon = " : " if lang == "fr" else ": "
    lines = [
        f"• {_escape(criterion_short_name(lang, q.id))}{colon}"
        f"<b>{_escape(answer_text(lang, q.id, loaded.answers.get(q.id)))}</b>"
        for q in applicable_questions(loaded.answers)
        if q.id in loaded.answers
    ]
    return Out(
        t(lang, "screen.summary", number=s.number, lines=_raw("\n".join(lines))),
        [
            [Button(t(lang, "screen.confirm"), cd.encode(cd.Summary(s.id, "ok")))],
            [Button(t(lang, "screen.edit"), cd.encode(cd.Summary(s.id, "edit")))],
        ],
        prompt_for=s.id,
    )


def _version(loaded: Loaded) -> versions.ProtocolVersion:
    """The rules a screening is judged under: the version it was opened under."""
    return versions.get(loaded.screening.protocol_version)


def _raw(text: str) -> str:
    from bot.texts import Raw

    return Raw(text)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def exclusion_prompt(
    lang: str,
    screening: Screening,
    failed: tuple[str, ...],
    answers: dict[str, AnswerValue],
    now: dt.datetime | None,
    zone: ZoneInfo | None,
) -> Out:
    """ "This answer excludes the patient: Âge 80 ans — le protocole inclut de 18 à 75 ans"."""
    if now is not None and zone is not None:
        reasons = verdict_sentences(lang, failed, flow.without_inapplicable(answers), now, zone)
    else:
        from bot.criteria import short_names

        reasons = short_names(lang, failed)
    confirm = cd.encode(cd.Exclusion(screening.id, "ok"))
    change = cd.encode(cd.Exclusion(screening.id, "chg"))
    return Out(
        t(lang, "screen.exclusion", reasons=reasons),
        [
            [
                Button(t(lang, "screen.confirm_exclusion"), confirm),
                Button(t(lang, "screen.change_answer"), change),
            ]
        ],
        prompt_for=screening.id,
    )


def current_prompt(lang: str, loaded: Loaded, ctx: Context | None = None) -> Out:
    """What the screening is waiting for right now (used by resume and stale buttons). With
    `ctx`, date buttons carry their dates and the exclusion states its value and rule."""
    s = loaded.screening
    now = ctx.now() if ctx is not None else None
    zone = ctx.zone if ctx is not None else None
    if s.stage == Stage.SUMMARY:
        return summary(lang, loaded)
    if s.stage == Stage.CONFIRM_EXCLUSION and s.proposed:
        proposed = json.loads(s.proposed)
        answers = dict(loaded.answers)
        question_id = str(proposed.get("question", ""))
        if question_id in BY_ID and isinstance(proposed.get("value"), str):
            answers[question_id] = from_json(question_id, proposed["value"])
        return exclusion_prompt(lang, s, tuple(proposed.get("failed", ())), answers, now, zone)
    if s.stage == Stage.SCORTEN:
        return scorten.scorten_prompt(lang, s, s.cursor or "heart_rate", "mmol/L")
    cursor = s.cursor or flow.next_question(loaded.answers) or QUESTIONS[0].id
    today = local_today(now, zone) if now is not None and zone is not None else None
    return ask(lang, loaded, cursor, today=today)


# --- commands -----------------------------------------------------------------------------


async def screen(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """`/screen`: while this user has a screening open, ask first (continue it / open a new
    number) — nothing is opened until a button is tapped. Else open a new number."""
    lang = ctx.language(actor)
    if not args:
        open_one = await ctx.db.read(_open_screening_of, actor)
        if open_one is not None:
            go = cd.encode(cd.ScreenChoice(open_one.id, "go"))
            new = cd.encode(cd.ScreenChoice(open_one.id, "new"))
            return [
                Out(
                    t(lang, "screen.ask_first", number=open_one.number),
                    [
                        [Button(t(lang, "screen.continue", number=open_one.number), go)],
                        [Button(t(lang, "screen.open_new"), new)],
                    ],
                )
            ]
    return await _open_new(ctx, actor, args)


def _open_screening_of(conn: Connection, actor: Actor) -> Screening | None:
    """The screening this user has open: the one their chat is on, else the latest one still
    in screening that they last acted on."""
    _, on_chat = _session_screening(conn, actor)
    if on_chat is not None and on_chat.status == store.IN_SCREENING:
        return on_chat
    mine = [
        s for s in store.list_screenings(conn, (store.IN_SCREENING,))
        if s.last_actor_id == actor.user_id
    ]  # fmt: skip
    return max(mine, key=lambda s: s.last_activity_at) if mine else None


async def screen_choice(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`n:<screening>:go|new`, the answer to "you have HMN-004 open": continue it (as
    /resume) or open a new number."""
    lang = ctx.language(actor)
    button = cd.SCREEN_CHOICE.decode(data)
    if button is None:
        return [Out("", toast=t(lang, "screen.stale"))]
    s = await ctx.db.read(store.get_by_id, button.screening_id)

    if s is None:
        return [Out("", toast=t(lang, "screen.stale"))]
    if button.action == "go":
        chosen = t(lang, "screen.continue", number=s.number)
        return [Out(chosen + " ✓", edit=actor.message_id), *await resume(ctx, actor, [s.number])]
    chosen = t(lang, "screen.open_new")
    return [Out(chosen + " ✓", edit=actor.message_id), *await _open_new(ctx, actor, [])]


async def _open_new(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()
    rescreen_of = args[0].upper() if args else None

    def body(conn: Connection) -> Screening | None:  # one hop: `Database.write`
        begin(conn, actor, now)
        if rescreen_of is not None and store.get_by_number(conn, rescreen_of) is None:
            return None
        screening = store.create_screening(
            conn,
            site=ctx.settings.site_code,
            clinician_id=actor.user_id,
            chat_id=actor.chat_id,
            now=now,
            first_question=QUESTIONS[0].id,
            rescreen_of=rescreen_of,
        )
        store.set_session(conn, actor.user_id, actor.chat_id, screening.id, SCREEN_MODE, now)
        append_audit(
            conn,
            audit(actor.user_id, "screening_opened", now, screening.number,
                  field="rescreen_of" if rescreen_of else None, new_value=rescreen_of),
        )  # fmt: skip
        return screening

    screening = await ctx.db.write(body)
    if screening is None:
        return [Out(t(lang, "screen.not_found", number=rescreen_of))]
    opened = t(lang, "screen.opened", number=screening.number)
    if rescreen_of:
        opened += "\n" + t(lang, "screen.rescreen_of", number=rescreen_of)
    return [
        Out(opened),
        ask(lang, Loaded(screening, {}), QUESTIONS[0].id, today=local_today(now, ctx.zone)),
    ]


def _session_screening(
    conn: Connection, actor: Actor
) -> tuple[store.Session | None, Screening | None]:
    session = store.get_session(conn, actor.user_id, actor.chat_id)
    if session is None or session.screening_id is None:
        return session, None
    return session, store.get_by_id(conn, session.screening_id)


async def back(ctx: Context, actor: Actor, from_question: str | None = None) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()

    def went_back(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        _, screening = _session_screening(conn, actor)
        if screening is None or screening.status != store.IN_SCREENING:
            return [Out(t(lang, "screen.no_open"))]
        if screening.stage == Stage.SCORTEN:
            return [current_prompt(lang, load(conn, screening), ctx)]
        loaded = load(conn, screening)
        current = None if screening.stage == Stage.SUMMARY else screening.cursor
        if from_question is not None and from_question != current:
            return [Out(t(lang, "screen.stale")), current_prompt(lang, loaded, ctx)]
        previous = flow.previous_question(loaded.answers, current)
        if previous is None:
            return [Out(t(lang, "screen.first_question")), current_prompt(lang, loaded, ctx)]
        store.update_screening(
            conn, screening.id, now, stage=Stage.QUESTION, cursor=previous, proposed=None,
            last_actor_id=actor.user_id, last_activity_at=now, idle_reminded=False,
        )  # fmt: skip
        append_audit(conn, audit(actor.user_id, "back", now, screening.number, field=previous))
        return [
            ask(lang, Loaded(screening, loaded.answers), previous, today=local_today(now, ctx.zone))
        ]

    return await ctx.db.write(went_back)


async def cancel(ctx: Context, actor: Actor) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()

    def cancelled(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        session, screening = _session_screening(conn, actor)
        in_scorten = screening is not None and screening.stage == Stage.SCORTEN
        if screening is None or (screening.status != store.IN_SCREENING and not in_scorten):
            if session is not None:
                store.clear_session(conn, actor.user_id, actor.chat_id)
            return [Out(t(lang, "screen.no_open"))]
        if in_scorten:
            # The screening itself is complete: leaving SCORTEN just stops the questions.
            store.update_screening(conn, screening.id, now, stage=Stage.DONE, cursor=None)
            store.clear_session(conn, actor.user_id, actor.chat_id)
            return [Out(t(lang, "screen.closed", number=screening.number,
                          status=t(lang, f"status.{screening.status}")))]  # fmt: skip
        abandon(conn, screening, str(actor.user_id), now, reason="cancel")
        store.clear_session(conn, actor.user_id, actor.chat_id)
        return [Out(t(lang, "screen.cancelled", number=screening.number))]

    return await ctx.db.write(cancelled)


async def resume(
    ctx: Context, actor: Actor, args: list[str], *, restarted: bool = False
) -> list[Out]:
    lang = ctx.language(actor)
    if not args:
        return [Out(t(lang, "screen.usage_resume"))]
    number = args[0].upper()
    now = ctx.now()

    def resumed(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        screening = store.get_by_number(conn, number)
        if screening is None:
            return [Out(t(lang, "screen.not_found", number=number))]
        in_scorten = screening.stage == Stage.SCORTEN
        if screening.status != store.IN_SCREENING and not in_scorten:
            status = t(lang, f"status.{screening.status}")
            return [Out(t(lang, "screen.not_resumable", number=number, status=status))]
        store.set_session(conn, actor.user_id, actor.chat_id, screening.id, SCREEN_MODE, now)
        store.update_screening(
            conn, screening.id, now, last_actor_id=actor.user_id, chat_id=actor.chat_id,
            last_activity_at=now, idle_reminded=False,
        )  # fmt: skip
        append_audit(conn, audit(actor.user_id, "resume", now, number))
        loaded = load(conn, screening)
        key = "screen.resumed_after_restart" if restarted else "screen.resumed"
        return [Out(t(lang, key, number=number)), current_prompt(lang, loaded, ctx)]

    return await ctx.db.write(resumed)


# --- answers ------------------------------------------------------------------------------


def session_bound(
    flow: Callable[[Context, Actor, str], Awaitable[list[Out]]],
) -> Callable[[Context, Actor, str], Awaitable[list[Out]]]:
    """A conversation button (`cd.SESSION_BUTTONS`) acts only on the screening this user's
    chat is on: forged data naming another screening (or another user's button) is refused
    without effect and shows nothing. A shift change goes through /resume NUMBER."""

    async def guarded(ctx: Context, actor: Actor, data: str) -> list[Out]:
        button = cd.decode(data)
        screening_id = button.screening_id if isinstance(button, cd.SESSION_BUTTONS) else None
        session = await chat_session(ctx.db, actor)  # read by the gate with the user
        if screening_id is None or session is None or session.screening_id != screening_id:
            return [Out("", toast=t(ctx.language(actor), "screen.stale"))]
        return await flow(ctx, actor, data)

    return guarded


async def answer_text_message(ctx: Context, actor: Actor, text: str) -> list[Out]:
    """A typed message while a screening is open: the answer to the current question.

    The common cases — a question or a SCORTEN value waiting — are ONE write transaction run
    in one hop to the database thread (`Database.write`): read the position, drop a
    re-delivery, parse, store the answer with its audit row, move on."""
    lang = ctx.language(actor)
    now = ctx.now()

    def body(conn: Connection) -> list[Out] | Loaded | None:
        session = store.get_session(conn, actor.user_id, actor.chat_id)
        if session is None or session.screening_id is None:
            return None
        loaded = load_by_id(conn, session.screening_id)
        if loaded is not None and loaded.screening.stage == Stage.SCORTEN:  # a SCORTEN value
            measure_id = scorten.parse_cursor(loaded.screening.cursor)[0]
            if loaded.screening.shown != store.prompt_key(Stage.SCORTEN, measure_id):
                prompt = scorten.scorten_prompt(
                    lang, loaded.screening, loaded.screening.cursor or ""
                )
                return not_shown(lang, loaded, prompt)
            parsed = scorten.parse_measure_text(lang, loaded.screening, text)
            if isinstance(parsed, list):
                return parsed
            measure, number, entered, echo = parsed
            return scorten.store_measure(
                conn, ctx, actor, loaded.screening, measure, number, entered, echo
            )
        if (
            loaded is None
            or loaded.screening.status != store.IN_SCREENING
            or loaded.screening.stage != Stage.QUESTION
            or loaded.screening.cursor is None
        ):
            return loaded  # handled below, outside the transaction
        question_id = loaded.screening.cursor
        if loaded.screening.shown != store.prompt_key(Stage.QUESTION, question_id):
            return not_shown(lang, loaded, ask(lang, loaded, question_id))
        begin(conn, actor, now)
        try:
            value = parse_text(question_id, text, local_today(now, ctx.zone), loaded.answers)
        except AnswerError as exc:
            invalid = Out(t(lang, "screen.invalid", problem=error_text(lang, exc)))
            return [invalid, ask(lang, loaded, question_id, today=local_today(now, ctx.zone))]
        return _apply(conn, ctx, actor, loaded, question_id, value, edit_prompt=None)

    result = await ctx.db.write(body)
    if isinstance(result, list):
        return result
    loaded = result
    screening = loaded.screening if loaded is not None else None
    if screening is None:
        return [Out(t(lang, "screen.no_open"))]
    if screening.status != store.IN_SCREENING or loaded is None:
        return [Out(t(lang, "screen.no_open"))]
    # Text where a button is expected: say which buttons, and show them again.
    hint = {
        "confirm_exclusion": "screen.use_buttons_exclusion",
        "summary": "screen.use_buttons_summary",
    }.get(screening.stage, "screen.stale")
    return [Out(t(lang, hint)), current_prompt(lang, loaded, ctx)]


async def answer_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`a:<screening id>:<question id>:<value>` — checked against the database, in the same
    write transaction that stores the answer (nobody can answer in between)."""
    lang = ctx.language(actor)
    button = cd.ANSWER.decode(data)
    if button is None:
        return [Out("", toast=t(lang, "screen.stale"))]
    screening_id, question_id, raw = button.screening_id, button.question_id, button.value
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:  # one hop: `Database.write`
        loaded = load_by_id(conn, screening_id)
        if loaded is None:
            return [Out("", toast=t(lang, "screen.stale"))]
        screening = loaded.screening
        if screening.status != store.IN_SCREENING:
            status = t(lang, f"status.{screening.status}")
            closed = t(lang, "screen.closed", number=screening.number, status=status)
            return [Out("", toast=closed)]
        if screening.stage != Stage.QUESTION or screening.cursor != question_id:
            return [Out("", toast=t(lang, "screen.stale")), current_prompt(lang, loaded, ctx)]
        q = BY_ID[question_id]
        value: AnswerValue
        today = local_today(now, ctx.zone)
        if raw == "keep" and loaded.answers.get(question_id) is not None:
            value = loaded.answers[question_id]  # "Keep ✓ 72 kg", back at a typed question
        elif q.kind is Kind.DATE and raw in ("today", "yesterday"):
            value = today if raw == "today" else today - dt.timedelta(days=1)
        elif q.kind is Kind.DATE and (shown := _iso_date(raw, today)) is not None:
            value = shown  # the date the button showed, even when tapped after midnight
        elif q.kind is Kind.BOOLEAN and raw in ("yes", "no"):
            value = raw == "yes"
        elif q.kind is Kind.CHOICE and raw in q.choices:
            value = raw
        else:
            return [Out("", toast=t(lang, "screen.stale"))]
        try:
            from conversations.answers import validate_in_context

            value = validate_in_context(question_id, value, today, loaded.answers)
        except AnswerError as exc:
            problem = error_text(lang, exc)
            return [Out(t(lang, "screen.invalid", problem=problem)),
                    ask(lang, loaded, question_id, today=today)]  # fmt: skip
        begin(conn, actor, now)
        _take_over(conn, actor, screening, now)
        return _apply(conn, ctx, actor, loaded, question_id, value, edit_prompt=actor.message_id)

    return await ctx.db.write(body)


def _take_over(conn: Connection, actor: Actor, screening: Screening, now: dt.datetime) -> None:
    """A tap on another clinician's screening (shift change) makes it this user's session."""
    session = store.get_session(conn, actor.user_id, actor.chat_id)
    if session is None or session.screening_id != screening.id:
        store.set_session(conn, actor.user_id, actor.chat_id, screening.id, SCREEN_MODE, now)


def _apply(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    loaded: Loaded,
    question_id: str,
    value: AnswerValue,
    edit_prompt: int | None,
) -> list[Out]:
    """Apply an answer to the question the screening waits for, inside the caller's write
    transaction (which has checked the position and called `begin`)."""
    lang = ctx.language(actor)
    now = ctx.now()
    out: list[Out] = []
    screening = loaded.screening
    updated, step = flow.apply_answer(
        loaded.answers, question_id, value, now, ctx.zone, _version(loaded)
    )
    echo = ""
    if edit_prompt is not None:
        shown = f"{question_text(lang, question_id).splitlines()[0]}\n" + t(
            lang, "screen.answered", answer=echo_text(lang, question_id, value)
        )
        out.append(Out(shown, edit=edit_prompt))
    else:
        # A typed answer is shown back as understood before anything else happens.
        echo = t(lang, "screen.echo", name=criterion_short_name(lang, question_id),
                 value=echo_text(lang, question_id, value))  # fmt: skip
    today = local_today(now, ctx.zone)
    if step.move is flow.Move.CONFIRM_EXCLUSION:
        # Not an answer yet: a mis-tap at night must not exclude anyone.
        proposed = json.dumps(
            {"question": question_id, "value": to_json(value), "failed": list(step.excluding)}
        )
        store.update_screening(
            conn, screening.id, now, stage=Stage.CONFIRM_EXCLUSION, proposed=proposed,
            last_actor_id=actor.user_id, last_activity_at=now, idle_reminded=False,
        )  # fmt: skip
        if echo:
            out.append(Out(echo))
        out.append(exclusion_prompt(lang, screening, step.excluding, updated, now, ctx.zone))
        return out
    record_answer(conn, actor, screening, loaded.answers, updated, question_id, now)
    if step.move is flow.Move.SUMMARY:
        store.update_screening(
            conn, screening.id, now, stage=Stage.SUMMARY, cursor=None,
            last_actor_id=actor.user_id, last_activity_at=now, idle_reminded=False,
        )  # fmt: skip
        if echo:
            out.append(Out(echo))
        out.append(summary(lang, Loaded(screening, updated)))
    else:
        assert step.question_id is not None
        store.update_screening(
            conn, screening.id, now, stage=Stage.QUESTION, cursor=step.question_id,
            last_actor_id=actor.user_id, last_activity_at=now, idle_reminded=False,
        )  # fmt: skip
        out.append(ask(lang, Loaded(screening, updated), step.question_id, echo, today))
    return out


def _iso_date(raw: str, today: dt.date) -> dt.date | None:
    """A date button's value (`2026-11-28`): today's or yesterday's date as shown, still
    accepted the day after (a "Yesterday 28/11" tapped after midnight means 28/11); else None."""
    try:
        shown = dt.date.fromisoformat(raw) if len(raw) == 10 and raw.isascii() else None
    except ValueError:
        return None
    if shown is None or not (today - dt.timedelta(days=2) <= shown <= today):
        return None
    return shown


async def exclusion_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`x:<screening id>:ok|chg` — confirm the excluding answer, or change it."""
    lang = ctx.language(actor)
    button = cd.EXCLUSION.decode(data)
    if button is None:
        return [Out("", toast=t(lang, "screen.stale"))]
    now = ctx.now()

    def body(conn: Connection) -> tuple[list[Out], bool]:  # (replies, closed)
        begin(conn, actor, now)
        screening = store.get_by_id(conn, button.screening_id)
        if (
            screening is None
            or screening.status != store.IN_SCREENING
            or screening.stage != Stage.CONFIRM_EXCLUSION
            or not screening.proposed
        ):
            return [Out("", toast=t(lang, "screen.stale"))], False
        proposed = json.loads(screening.proposed)
        question_id = str(proposed["question"])
        loaded = load(conn, screening)
        if button.action == "chg":
            store.update_screening(
                conn, screening.id, now, stage=Stage.QUESTION, cursor=question_id, proposed=None,
                last_actor_id=actor.user_id, last_activity_at=now,
            )  # fmt: skip
            out = [Out(t(lang, "screen.change_answer"), edit=actor.message_id)]
            return [*out, ask(lang, loaded, question_id, today=local_today(now, ctx.zone))], False
        value = from_json(question_id, proposed["value"])
        updated, _ = flow.apply_answer(
            loaded.answers, question_id, value, now, ctx.zone, _version(loaded)
        )
        record_answer(conn, actor, screening, loaded.answers, updated, question_id, now)
        evaluation = evaluate(
            flow.without_inapplicable(updated), now, ctx.zone, version=_version(loaded)
        )
        closing = outcomes.close_screening(conn, ctx, actor, screening, updated, evaluation, now)
        store.clear_session(conn, actor.user_id, actor.chat_id)
        return closing, True

    closing, closed = await ctx.db.write(body)
    if not closed:
        return closing
    ctx.wake_sender()
    confirmed = t(lang, "screen.confirm_exclusion") + " ✓"
    return [Out(confirmed, edit=actor.message_id), *closing]


async def summary_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`s:<screening id>:ok|edit` on the summary; `e:<screening id>:<question id>` to change."""
    lang = ctx.language(actor)
    button = cd.decode(data)
    if not isinstance(button, cd.Summary | cd.Edit):
        return [Out("", toast=t(lang, "screen.stale"))]
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:  # one hop: `Database.write`
        begin(conn, actor, now)
        screening = store.get_by_id(conn, button.screening_id)
        if screening is None or screening.status != store.IN_SCREENING:
            return [Out("", toast=t(lang, "screen.stale"))]
        loaded = load(conn, screening)
        if isinstance(button, cd.Edit):
            question_id = button.question_id
            if question_id not in loaded.answers or screening.stage not in (
                Stage.SUMMARY,
                Stage.QUESTION,
            ):
                return [Out("", toast=t(lang, "screen.stale"))]
            store.update_screening(
                conn, screening.id, now, stage=Stage.QUESTION, cursor=question_id,
                last_actor_id=actor.user_id, last_activity_at=now,
            )  # fmt: skip
            append_audit(conn, audit(actor.user_id, "change", now, screening.number,
                                           field=question_id))  # fmt: skip
            return [ask(lang, loaded, question_id, today=local_today(now, ctx.zone))]
        if screening.stage != Stage.SUMMARY:
            return [Out("", toast=t(lang, "screen.stale")), current_prompt(lang, loaded, ctx)]
        if button.action == "edit":
            rows = [
                [Button(criterion_short_name(lang, q.id)[:60],
                        cd.encode(cd.Edit(screening.id, q.id)))]
                for q in applicable_questions(loaded.answers)
                if q.id in loaded.answers
            ]  # fmt: skip
            return [Out(t(lang, "screen.pick_question"), rows, prompt_for=screening.id)]
        evaluation = evaluate(loaded.answers, now, ctx.zone, version=_version(loaded))
        if evaluation.outcome is Outcome.INCOMPLETE:
            following = flow.next_question(loaded.answers) or QUESTIONS[0].id
            store.update_screening(conn, screening.id, now, stage=Stage.QUESTION,
                                         cursor=following)  # fmt: skip
            return [ask(lang, loaded, following, today=local_today(now, ctx.zone))]
        closing = outcomes.close_screening(
            conn, ctx, actor, screening, loaded.answers, evaluation, now
        )
        if evaluation.outcome in (Outcome.ELIGIBLE, Outcome.PENDING):
            store.update_screening(conn, screening.id, now, stage=Stage.SCORTEN,
                                         cursor="heart_rate")  # fmt: skip
            closing.append(Out(t(lang, "scorten.intro")))
            closing.append(scorten.scorten_prompt(lang, screening, "heart_rate", "mmol/L"))
        else:
            store.clear_session(conn, actor.user_id, actor.chat_id)
        after_commit(conn, ctx.wake_sender)  # the screening closed: reminders queued
        return [Out(t(lang, "screen.confirm") + " ✓", edit=actor.message_id), *closing]

    return await ctx.db.write(body)


# --- routes (bot/routing.py; the composition root, bot/app.py, builds the tables) ------------


async def _back_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    button = cd.BACK.decode(data)
    if button is None:
        return [Out("", toast=t(ctx.language(actor), "screen.stale"))]
    return await back(ctx, actor, button.question_id)


async def _back_command(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    return await back(ctx, actor)


async def _cancel_command(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    return await cancel(ctx, actor)


FEATURE = routing.Feature(
    "screening",
    commands=(
        routing.Command("screen", screen),
        routing.Command("back", _back_command),
        routing.Command("cancel", _cancel_command),
        routing.Command("resume", resume),
    ),
    # A button's screening must be this chat's session (`session_bound`).
    callbacks=(
        routing.Callback(Prefix.ANSWER, "screen", session_bound(answer_button)),
        routing.Callback(Prefix.BACK, "back", session_bound(_back_button)),
        routing.Callback(Prefix.EXCLUSION, "screen", session_bound(exclusion_button)),
        routing.Callback(Prefix.SUMMARY, "screen", session_bound(summary_button)),
        routing.Callback(Prefix.EDIT, "screen", session_bound(summary_button)),
        routing.Callback(Prefix.SCORTEN, "screen", session_bound(scorten.scorten_button)),
        routing.Callback(Prefix.SCREEN_CHOICE, "screen", screen_choice),
    ),
    text_modes=(routing.TextMode(SCREEN_MODE, "screen", answer_text_message),),
)
