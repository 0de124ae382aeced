"""After screening: /d0 (the injection), /withdraw, /update (pending criteria) and the answers
to the follow-up reminders.

- `/d0 NUMBER [dd/mm/yyyy hh:mm]` (default now, local time): only for a screened, eligible
  patient; asks the investigator to confirm eligibility with a button; an injection after the
  D0 deadline first asks for an override reason (typed), recorded as a protocol deviation. On
  confirmation: injected (audited), window / pending / BSA reminders cancelled, the follow-up
  time points (`conversations.schedule.FOLLOW_UPS`, protocol data) scheduled for the injector
  and every coordinator, the team told; the reply lists the follow-up dates.
- `/withdraw NUMBER reason`: the patient will not be injected; every reminder stops.
- `/update NUMBER`: re-asks only the pending criteria (buttons, BSA typed); each answer is a
  new answer row (source "update", audited) followed by `bot.reminders.closing.reevaluate`.
- Follow-up answers (`f:<screening id>:<follow-up id>:<value>`) are stored as answer rows
  `follow_up:<id>`; an adverse effect at D0+10 shows the sponsor's SAE rule and alerts the
  coordinators at once.

Callback prefixes: `d` (d0 confirm), `u` (update answers), `f` (follow-up). Every callback is
checked against the database (screening, its state, the session, the value allowed). While
one of these modes waits for typed text, the user's screening session (if any) is kept aside
in the session data and restored afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from bot import callback_data as cd
from bot import routing
from bot.callback_data import Prefix
from bot.common import Actor, Button, Context, Out
from bot.criteria import criterion_short_name, verdict_lines, verdict_sentences
from bot.flows.screening import SCREEN_MODE, question_text
from bot.present import answer_text, error_text, local_time, number_text
from bot.records import Loaded, begin, load, record_answer
from bot.reminders import closing as outcomes
from bot.reminders.follow_ups import (
    answered_message,
    follow_up_final,
    follow_up_key,
    follow_up_next_due,
)
from bot.texts import t
from conversations import d0 as d0_facts
from conversations import flow, schedule
from conversations.answers import AnswerError, parse_text, parse_wall_clock
from conversations.eligibility import Evaluation, Outcome
from conversations.lifecycle import Stage
from conversations.protocol import BY_ID, UPDATABLE, AnswerValue, Kind
from conversations.reminder_kinds import Cause, ReminderKind
from conversations.schedule import FOLLOW_UP_BY_ID, FollowUp
from conversations.windows import at_local, bsa_observation_end, local_today
from storage import ownership as own_store
from storage import queries
from storage import reminders as outbox
from storage import screenings as store
from storage import users as user_store
from storage.audit import AuditEntry, append_audit, append_audit_many
from storage.screenings import Screening, Session
from storage.sql import after_commit
from storage.timefmt import from_db, to_db

D0_REASON_MODE = "d0_reason"
D0_CONFIRM_MODE = "d0_confirm"
UPDATE_MODE = "update"
FU_DATE_MODE = "fu_date"
WITHDRAW_CONFIRM_MODE = "withdraw_confirm"
OUR_MODES = frozenset(
    {D0_REASON_MODE, D0_CONFIRM_MODE, UPDATE_MODE, FU_DATE_MODE, WITHDRAW_CONFIRM_MODE}
)
REASON_LIMIT = 200
#: A typed injection time may run a few minutes ahead of the server clock, not more.
CLOCK_TOLERANCE = dt.timedelta(minutes=5)
#: Kinds stopped by the injection (the follow-ups start instead).
STOPPED_BY_INJECTION = (
    ReminderKind.D0_WINDOW,
    ReminderKind.PENDING,
    ReminderKind.BSA_EXPIRY,
    ReminderKind.ESCALATION,
)


def _audit(
    actor: int | str, action: str, now: dt.datetime, number: str, **fields: Any
) -> AuditEntry:
    return AuditEntry(at=now, actor=str(actor), action=action, screening=number, **fields)


def _stale(lang: str, key: str = "screen.stale") -> list[Out]:
    return [Out("", toast=t(lang, key))]


# --- sessions: our modes keep the user's screening session aside ----------------------------


def _enter(
    conn: Connection,
    actor: Actor,
    screening_id: int,
    mode: str,
    now: dt.datetime,
    data: dict[str, Any],
) -> None:
    current = store.get_session(conn, actor.user_id, actor.chat_id)
    previous: dict[str, Any] | None = None
    if current is not None and current.mode in OUR_MODES:
        previous = current.data.get("previous")
    elif current is not None and current.mode == SCREEN_MODE:
        previous = {"screening_id": current.screening_id, "data": current.data}
    store.set_session(conn, actor.user_id, actor.chat_id, screening_id, mode, now,
                            {**data, "previous": previous})  # fmt: skip


def _leave(conn: Connection, actor: Actor, session: Session | None, now: dt.datetime) -> None:
    previous = session.data.get("previous") if session is not None else None
    if isinstance(previous, dict) and previous.get("screening_id") is not None:
        store.set_session(conn, actor.user_id, actor.chat_id, int(previous["screening_id"]),
                                SCREEN_MODE, now, previous.get("data") or {})  # fmt: skip
    else:
        store.clear_session(conn, actor.user_id, actor.chat_id)


def _our_session(
    conn: Connection, actor: Actor, modes: tuple[str, ...], screening_id: int | None
) -> Session | None:
    session = store.get_session(conn, actor.user_id, actor.chat_id)
    if session is None or session.mode not in modes:
        return None
    if screening_id is not None and session.screening_id != screening_id:
        return None
    return session


# --- /d0 ------------------------------------------------------------------------------------


def parse_injection_time(text: str, now: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """`dd/mm/yyyy hh:mm`, `dd/mm hh:mm`, `hh:mm` (today), `yyyy-mm-dd hh:mm`, `14h30` (the
    core's one parser, `parse_wall_clock`): a wall-clock time in the trial zone; None if it
    is not one."""
    today = local_today(now, zone)
    typed = parse_wall_clock(text, today)
    if typed is None:
        return None
    return at_local(typed.day or today, typed.time, zone)


def _d0_refusal(lang: str, s: Screening) -> Out | None:
    if s.injected_at is not None:
        return Out(t(lang, "d0.already", number=s.number, at=s.injected_at.strftime("%d/%m/%Y")))
    if s.status != store.SCREENED:
        return Out(
            t(lang, "d0.wrong_status", number=s.number, status=t(lang, f"status.{s.status}"))
        )
    if s.outcome == Outcome.PENDING:
        return Out(t(lang, "d0.pending", number=s.number))
    if s.outcome != Outcome.ELIGIBLE:
        outcome = t(lang, f"outcome.{s.outcome}")
        return Out(t(lang, "d0.not_eligible", number=s.number, outcome=outcome))
    return None


def _confirm_prompt(
    lang: str, s: Screening, at: dt.datetime, reason: str | None, zone: ZoneInfo
) -> Out:
    lines = [t(lang, "d0.confirm", number=s.number, at=local_time(at, zone))]
    if s.dose_cells is not None:
        millions = f"{s.dose_cells / 1_000_000:g}"
        lines.append(
            t(lang, "d0.dose", millions=millions.replace(".", ",") if lang == "fr" else millions)
        )
    if reason:
        lines.append(t(lang, "d0.override_line", reason=reason))
    confirm = Button(t(lang, "d0.yes"), cd.encode(cd.D0Confirm(s.id, "ok")))
    cancel = Button(t(lang, "d0.no"), cd.encode(cd.D0Confirm(s.id, "no")))
    return Out(
        "\n".join(lines),
        [[confirm, cancel]],
        prompt_for=s.id,
    )


async def d0(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """/d0 NUMBER [dd/mm/yyyy hh:mm]: check, then ask to confirm (or for an override reason)."""
    lang = ctx.language(actor)
    if not args:
        return [Out(t(lang, "d0.usage"))]
    number = args[0].upper()
    now = ctx.now()
    at = now
    if len(args) > 1:
        parsed = parse_injection_time(" ".join(args[1:]), now, ctx.zone)
        if parsed is None:
            return [Out(t(lang, "d0.bad_time", text=" ".join(args[1:])[:40]))]
        at = parsed
    if at > now + CLOCK_TOLERANCE:
        return [Out(t(lang, "d0.future"))]

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        s = store.get_by_number(conn, number)
        if s is None:
            return [Out(t(lang, "screen.not_found", number=number))]
        refusal = _d0_refusal(lang, s)
        if refusal is not None:
            return [refusal]
        if s.admission_date is not None and at.astimezone(ctx.zone).date() < s.admission_date:
            return [Out(t(lang, "d0.before_admission",
                          admission=s.admission_date.strftime("%d/%m/%Y")))]  # fmt: skip
        if s.d0_deadline is not None and at > s.d0_deadline:
            _enter(conn, actor, s.id, D0_REASON_MODE, now, {"at": to_db(at)})
            text = t(lang, "d0.late", number=s.number, at=local_time(at, ctx.zone),
                     deadline=local_time(s.d0_deadline, ctx.zone))  # fmt: skip
            cancel = Button(t(lang, "d0.no"), cd.encode(cd.D0Confirm(s.id, "no")))
            return [Out(text, [[cancel]], prompt_for=s.id)]
        _enter(conn, actor, s.id, D0_CONFIRM_MODE, now, {"at": to_db(at)})
        return [_confirm_prompt(lang, s, at, None, ctx.zone)]

    return await ctx.db.write(body)


async def d0_reason_text(ctx: Context, actor: Actor, text: str) -> list[Out]:
    """The override reason for an injection after the deadline (free text, short)."""
    lang = ctx.language(actor)
    reason = " ".join(text.split())
    if not reason:
        return [Out(t(lang, "d0.reason_empty"))]
    if len(reason) > REASON_LIMIT:
        return [Out(t(lang, "d0.reason_too_long", limit=REASON_LIMIT))]
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        session = _our_session(conn, actor, (D0_REASON_MODE,), None)
        s = (
            store.get_by_id(conn, session.screening_id)
            if session and session.screening_id
            else None
        )
        if session is None or s is None or "at" not in session.data:
            return [Out(t(lang, "d0.stale"))]
        refusal = _d0_refusal(lang, s)
        if refusal is not None:
            _leave(conn, actor, session, now)
            return [refusal]
        at = from_db(str(session.data["at"]))
        data = {
            "at": session.data["at"],
            "reason": reason,
            "previous": session.data.get("previous"),
        }
        store.set_session(conn, actor.user_id, actor.chat_id, s.id, D0_CONFIRM_MODE, now, data)
        return [_confirm_prompt(lang, s, at, reason, ctx.zone)]

    return await ctx.db.write(body)


async def _waiting_on(
    ctx: Context, actor: Actor, mode: str
) -> tuple[Session | None, Screening | None]:
    """The chat's session in `mode` (a confirmation waiting for its button) and its patient."""

    def fetch(conn: Connection) -> tuple[Session | None, Screening | None]:
        session = _our_session(conn, actor, (mode,), None)
        if session is None or not session.screening_id:
            return session, None
        return session, store.get_by_id(conn, session.screening_id)

    return await ctx.db.read(fetch)


async def d0_confirm_text(ctx: Context, actor: Actor, text: str) -> list[Out]:
    """Typed text while the confirmation waits for a button: show it again."""
    lang = ctx.language(actor)
    session, s = await _waiting_on(ctx, actor, D0_CONFIRM_MODE)
    if session is None or s is None:
        return [Out(t(lang, "d0.stale"))]
    reason = session.data.get("reason")
    at = from_db(str(session.data["at"]))
    return [_confirm_prompt(lang, s, at, str(reason) if reason else None, ctx.zone)]


async def d0_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`d:<screening id>:ok|no` — checked against the session and the screening's state."""
    lang = ctx.language(actor)
    button = cd.D0_CONFIRM.decode(data)
    if button is None:
        return _stale(lang, "d0.stale")
    screening_id = button.screening_id
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        session = _our_session(conn, actor, (D0_CONFIRM_MODE, D0_REASON_MODE), screening_id)
        if session is None or "at" not in session.data:
            # A second tap on "Confirm" (a double tap, a slow network): the first recorded
            # the injection. Say so, never invite a second record with "run /d0 again".
            recorded = store.get_by_id(conn, screening_id)
            if recorded is not None and recorded.injected_at is not None:
                return [Out("", toast=t(lang, "d0.already_recorded", number=recorded.number,
                                        at=local_time(recorded.injected_at, ctx.zone)))]  # fmt: skip
            return _stale(lang, "d0.stale")
        if button.action == "no":
            _leave(conn, actor, session, now)
            return [Out(t(lang, "d0.cancelled"), edit=actor.message_id)]
        s = store.get_by_id(conn, screening_id)
        if session.mode != D0_CONFIRM_MODE or s is None:
            return _stale(lang, "d0.stale")
        refusal = _d0_refusal(lang, s)
        if refusal is not None:
            _leave(conn, actor, session, now)
            return [refusal]
        at = from_db(str(session.data["at"]))
        reason = session.data.get("reason")
        late = s.d0_deadline is not None and at > s.d0_deadline
        if late and not reason:
            return _stale(lang, "d0.stale")
        plan = _record_injection(conn, ctx, actor, s, at, str(reason) if late else None, now)
        _leave(conn, actor, session, now)
        after_commit(conn, ctx.wake_sender)  # reminders changed
        lines = "\n".join(
            t(lang, "d0.fu_line", date=due.due.astimezone(ctx.zone).strftime("%d/%m/%Y"),
              days=FOLLOW_UP_BY_ID[due.step].days_after_d0, question=t(lang, f"fu.q.{due.step}"))
            for due in plan
        )  # fmt: skip
        done = t(lang, "d0.done", number=s.number, at=local_time(at, ctx.zone), lines=_raw(lines))
        return [Out(t(lang, "d0.yes") + " ✓", edit=actor.message_id), Out(done)]

    outs = await ctx.db.write(body)
    return outs


def _raw(text: str) -> str:
    from bot.texts import Raw

    return Raw(text)


def _record_injection(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    at: dt.datetime,
    override: str | None,
    now: dt.datetime,
) -> list[schedule.Due]:
    """Injected; window reminders stop; follow-ups scheduled; the team told (same transaction)."""
    store.update_screening(
        conn, s.id, now, status=store.INJECTED, injected_at=at, injected_by=actor.user_id,
        d0_override_reason=override, last_actor_id=actor.user_id,
    )  # fmt: skip
    own_store.cancel_scheduled(conn, s.id, Cause.INJECTED, STOPPED_BY_INJECTION)
    coordinators = user_store.users_with_role(conn, "coordinator")
    recipients = [outbox.user_recipient(actor.user_id)]
    recipients += [outbox.user_recipient(c) for c in coordinators]
    plan = schedule.follow_up_plan(at, ctx.zone)
    for due in plan:
        outbox.schedule(conn, s.id, due.kind, due.step, due.due, recipients)
    outbox.schedule(conn, s.id, ReminderKind.NOTICE, "injected", now, [outbox.TEAM])
    entries = [
        _audit(actor.user_id, "injection", now, s.number, field="injected_at",
               new_value=at.isoformat(), reason=override),
        _audit(actor.user_id, "status", now, s.number, field="status", old_value=s.status,
               new_value=store.INJECTED, reason="investigator confirmed eligibility"),
    ]  # fmt: skip
    # What was done at D0 is a fact: the weight used, the dose given, who confirmed
    # eligibility, under which protocol version — never rewritten by a later correction.
    weight = queries.json_value((store.current_answers(conn, s.id)).get("weight_kg"))
    facts = d0_facts.facts_at_d0(
        float(weight) if isinstance(weight, int | float) else None,
        s.dose_cells, actor.user_id, s.protocol_version,
    )  # fmt: skip
    for fact_id, stored in facts.stored().items():
        store.add_answer(conn, s.id, fact_id, stored, by=actor.user_id, now=now,
                               source="d0")  # fmt: skip
        entries.append(_audit(actor.user_id, "d0_fact", now, s.number, field=fact_id,
                              new_value=stored))  # fmt: skip
    if override is not None and s.d0_deadline is not None:
        entries.append(_audit(actor.user_id, "protocol_deviation", now, s.number,
                              field="d0_window", old_value=s.d0_deadline.isoformat(),
                              new_value=at.isoformat(), reason=override))  # fmt: skip
    append_audit_many(conn, entries)
    return plan


# --- /withdraw ------------------------------------------------------------------------------


def _screened(
    conn: Connection, lang: str, number: str, wrong_status_key: str
) -> Screening | list[Out]:
    """The screening `number` if its status is `screened`; else the refusal to send."""
    s = store.get_by_number(conn, number)
    if s is None:
        return [Out(t(lang, "screen.not_found", number=number))]
    if s.status != store.SCREENED:
        status = t(lang, f"status.{s.status}")
        return [Out(t(lang, wrong_status_key, number=s.number, status=status))]
    return s


def _withdraw_prompt(lang: str, s: Screening, reason: str, ctx: Context) -> Out:
    """Number, status, outcome and D0 deadline, then Confirm / Cancel: one wrong digit must
    not silence an eligible patient's reminders."""
    deadline = (
        t(lang, "wd.deadline", deadline=local_time(s.d0_deadline, ctx.zone))
        if s.d0_deadline is not None
        else t(lang, "wd.no_deadline")
    )
    outcome = t(lang, f"outcome.{s.outcome}") if s.outcome else "—"
    text = t(lang, "wd.confirm", number=s.number, status=t(lang, f"status.{s.status}"),
             outcome=outcome, deadline=deadline, reason=reason)  # fmt: skip
    buttons = [
        [
            Button(t(lang, "wd.yes"), cd.encode(cd.WithdrawConfirm(s.id, "ok"))),
            Button(t(lang, "wd.no"), cd.encode(cd.WithdrawConfirm(s.id, "no"))),
        ]
    ]
    return Out(text, buttons, prompt_for=s.id)


async def withdraw(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """/withdraw NUMBER reason: shows the patient and asks to confirm; nothing changes yet."""
    lang = ctx.language(actor)
    reason = " ".join(args[1:]).strip()
    if len(args) < 2 or not reason:
        return [Out(t(lang, "wd.usage"))]
    if len(reason) > REASON_LIMIT:
        return [Out(t(lang, "d0.reason_too_long", limit=REASON_LIMIT))]
    number = args[0].upper()
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        found = _screened(conn, lang, number, "wd.wrong_status")
        if not isinstance(found, Screening):
            return found
        s = found
        # The reason waits in the session (it may be longer than a button's 64 bytes).
        _enter(conn, actor, s.id, WITHDRAW_CONFIRM_MODE, now, {"reason": reason})
        return [_withdraw_prompt(lang, s, reason, ctx)]

    return await ctx.db.write(body)


async def withdraw_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`w:<screening id>:ok|no` — the withdrawal asked for in this chat, checked again."""
    lang = ctx.language(actor)
    button = cd.WITHDRAW_CONFIRM.decode(data)
    if button is None:
        return _stale(lang, "wd.stale")
    screening_id = button.screening_id
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        session = _our_session(conn, actor, (WITHDRAW_CONFIRM_MODE,), screening_id)
        if session is None:
            return _stale(lang, "wd.stale")
        s = store.get_by_id(conn, screening_id)
        reason = str(session.data.get("reason") or "")
        _leave(conn, actor, session, now)
        if s is None:
            return _stale(lang, "wd.stale")
        if button.action == "no":
            return [Out(t(lang, "wd.cancelled", number=s.number), edit=actor.message_id)]
        if s.status != store.SCREENED or not reason:
            status = t(lang, f"status.{s.status}")
            return [Out(t(lang, "wd.wrong_status", number=s.number, status=status),
                        edit=actor.message_id)]  # fmt: skip
        store.update_screening(
            conn, s.id, now, status=store.WITHDRAWN, withdrawn_reason=reason,
            last_actor_id=actor.user_id, stage=Stage.DONE, cursor=None,
        )  # fmt: skip
        own_store.cancel_scheduled(conn, s.id, Cause.WITHDRAWN)
        outbox.schedule(conn, s.id, ReminderKind.NOTICE, "withdrawn", now, [outbox.TEAM])
        append_audit(conn, _audit(actor.user_id, "withdrawal", now, s.number, field="status",
                                        old_value=s.status, new_value=store.WITHDRAWN,
                                        reason=reason))  # fmt: skip
        after_commit(conn, ctx.wake_sender)  # reminders changed
        return [Out(t(lang, "wd.done", number=s.number), edit=actor.message_id)]

    outs = await ctx.db.write(body)
    return outs


async def withdraw_confirm_text(ctx: Context, actor: Actor, text: str) -> list[Out]:
    """Text typed while a withdrawal waits for Confirm / Cancel: show the question again."""
    lang = ctx.language(actor)
    session, s = await _waiting_on(ctx, actor, WITHDRAW_CONFIRM_MODE)
    if session is None or s is None:
        return [Out(t(lang, "wd.stale"))]
    return [_withdraw_prompt(lang, s, str(session.data.get("reason") or ""), ctx)]


# --- /update --------------------------------------------------------------------------------


def _update_queue(s: Screening) -> list[str]:
    """The pending criteria that /update re-asks, in the order of the questionnaire."""
    order = list(BY_ID)
    return sorted((r for r in s.reasons if r in UPDATABLE), key=order.index)


def update_prompt(
    lang: str, s: Screening, question_id: str, answers: dict[str, AnswerValue]
) -> Out:
    lines = [t(lang, "upd.ask", number=s.number, question=_raw(question_text(lang, question_id)))]
    if question_id in answers:
        current = answer_text(lang, question_id, answers[question_id])
        lines.append(t(lang, "upd.current", value=current))
    q = BY_ID[question_id]
    rows: list[list[Button]] = []
    if q.kind is Kind.CHOICE:
        rows.append([Button(t(lang, f"c.{c}"), cd.encode(cd.UpdateAnswer(s.id, question_id, c)))
                     for c in q.choices])  # fmt: skip
    rows.append(
        [Button(t(lang, "upd.skip"), cd.encode(cd.UpdateAnswer(s.id, question_id, "skip")))]
    )
    return Out("\n".join(lines), rows, prompt_for=s.id)


async def update(ctx: Context, actor: Actor, args: list[str]) -> list[Out]:
    """/update NUMBER: ask again, one at a time, just the criteria still pending."""
    lang = ctx.language(actor)
    if not args:
        return [Out(t(lang, "upd.usage"))]
    number = args[0].upper()
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        found = _screened(conn, lang, number, "upd.wrong_status")
        if not isinstance(found, Screening):
            return found
        s = found
        queue = _update_queue(s) if s.outcome == Outcome.PENDING else []
        if not queue:
            outcome = t(lang, f"outcome.{s.outcome}")
            return [Out(t(lang, "upd.nothing", number=s.number, outcome=outcome))]
        loaded = load(conn, s)
        _enter(conn, actor, s.id, UPDATE_MODE, now, {"queue": queue, "stored": False})
        pending = verdict_sentences(lang, queue, flow.without_inapplicable(loaded.answers), now,
                                    ctx.zone)  # fmt: skip
        intro = t(lang, "upd.intro", number=s.number, names=pending)
        return [Out(intro), update_prompt(lang, s, queue[0], loaded.answers)]

    return await ctx.db.write(body)


async def update_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`u:<screening id>:<question id>:<value>[:c]` (c: the excluding answer is confirmed;
    value `skip` leaves it unchanged, `ask` shows the question again)."""
    lang = ctx.language(actor)
    button = cd.decode(data)
    if not isinstance(button, cd.UpdateAnswer | cd.UpdateConfirm):
        return _stale(lang, "upd.stale")
    question_id, raw = button.question_id, button.value
    q = BY_ID[question_id]
    if raw not in ("skip", "ask") and (q.kind is not Kind.CHOICE or raw not in q.choices):
        return _stale(lang, "upd.stale")
    confirmed = isinstance(button, cd.UpdateConfirm)
    return await _update_step(ctx, actor, button.screening_id, question_id, raw,
                              confirmed=confirmed, edit=actor.message_id)  # fmt: skip


async def update_text(ctx: Context, actor: Actor, text: str) -> list[Out]:
    """A typed answer in /update mode (the BSA, or a choice typed instead of tapped)."""
    lang = ctx.language(actor)
    now = ctx.now()

    def body(conn: Connection) -> tuple[Session | None, Screening | None, Loaded | None]:
        session = _our_session(conn, actor, (UPDATE_MODE,), None)
        s = (
            store.get_by_id(conn, session.screening_id)
            if session and session.screening_id
            else None
        )
        loaded = load(conn, s) if s is not None else None
        return session, s, loaded

    session, s, loaded = await ctx.db.write(body)
    queue = list(session.data.get("queue", [])) if session else []
    if session is None or s is None or loaded is None or not queue:
        return [Out(t(lang, "upd.stale"))]
    question_id = str(queue[0])
    try:
        value = parse_text(question_id, text, local_today(now, ctx.zone), loaded.answers)
    except AnswerError as exc:
        return [Out(t(lang, "screen.invalid", problem=error_text(lang, exc))),
                update_prompt(lang, s, question_id, loaded.answers)]  # fmt: skip
    return await _update_step(ctx, actor, s.id, question_id, value, confirmed=False, edit=None)


async def _update_step(
    ctx: Context,
    actor: Actor,
    screening_id: int,
    question_id: str,
    value: AnswerValue,
    *,
    confirmed: bool,
    edit: int | None,
) -> list[Out]:
    lang = ctx.language(actor)
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        out: list[Out] = []
        evaluation: Evaluation | None = None
        begin(conn, actor, now)
        session = _our_session(conn, actor, (UPDATE_MODE,), screening_id)
        queue = [str(q) for q in session.data.get("queue", [])] if session else []
        if session is None or not queue or queue[0] != question_id:
            return _stale(lang, "upd.stale")
        s = store.get_by_id(conn, screening_id)
        # Pending still — or just eligible and asked who signed the consent.
        expected = (
            (Outcome.PENDING, Outcome.ELIGIBLE)
            if question_id == "consent_by"
            else (Outcome.PENDING,)
        )
        if s is None or s.status != store.SCREENED or s.outcome not in expected:
            _leave(conn, actor, session, now)
            return _stale(lang, "upd.stale")
        loaded = load(conn, s)
        answers = loaded.answers
        if value == "ask":
            return [update_prompt(lang, s, question_id, answers)]
        stored = bool(session.data.get("stored"))
        label = criterion_short_name(lang, question_id)
        if value == "skip" or value == answers.get(question_id):
            out.append(Out(t(lang, "upd.unchanged", question=label), edit=edit))
        elif question_id == "max_bsa_percent" and not _bsa_open(answers, now, ctx.zone):
            index = answers.get("index_date")
            end = (
                bsa_observation_end(index).strftime("%d/%m/%Y")
                if isinstance(index, dt.date)
                else "—"
            )
            out.append(Out(t(lang, "upd.bsa_closed", end=end)))
        elif question_id == "max_bsa_percent" and _not_higher(answers.get(question_id), value):
            old = answers[question_id]
            kept = number_text(lang, old) if isinstance(old, int | float) else str(old)
            out.append(Out(t(lang, "upd.bsa_lower", kept=kept)))
        else:
            updated, step = flow.apply_answer(answers, question_id, value, now, ctx.zone)
            if question_id in step.evaluation.failed and not confirmed:
                # A failing answer is confirmed before it excludes anyone (DESIGN.md).
                reasons = verdict_lines(lang, (question_id,), updated, now, ctx.zone)
                text = t(lang, "screen.exclusion", reasons=reasons)
                # Only a choice fails here (a BSA below the threshold is pending while its
                # observation lasts; a closed one was refused above): it travels in the
                # button. Were anything else to fail, only "change the answer" is offered.
                change = cd.UpdateAnswer(s.id, question_id, "ask")
                buttons = [[Button(t(lang, "screen.change_answer"), cd.encode(change))]]
                if isinstance(value, str):
                    confirm = cd.UpdateConfirm(s.id, question_id, value)
                    buttons[0].insert(
                        0, Button(t(lang, "screen.confirm_exclusion"), cd.encode(confirm))
                    )
                return [Out(text, buttons, prompt_for=s.id)]
            record_answer(conn, actor, s, answers, updated, question_id, now, source="update")
            store.update_screening(conn, s.id, now, last_actor_id=actor.user_id)
            stored = True
            shown = answer_text(lang, question_id, value)
            out.append(Out(t(lang, "upd.recorded", question=label, value=shown), edit=edit))
            if question_id == "consent" and value == "obtained" and "consent_by" not in answers:
                queue.insert(1, "consent_by")
            if question_id == "consent_by" and value == "support_person":
                _consent_reminder(conn, ctx, s, now)
            s = store.get_by_id(conn, s.id) or s
            _, evaluation = outcomes.reevaluate(conn, ctx, str(actor.user_id), s, now,
                                                      reason="update")  # fmt: skip
            asks_signer = "consent_by" in queue[1:]  # optional: asked even once eligible
            if evaluation.outcome is Outcome.NOT_ELIGIBLE or (
                evaluation.outcome is not Outcome.PENDING and not asks_signer
            ):
                _leave(conn, actor, session, now)
                out.append(_result(conn, ctx, lang, s, evaluation, now))
                after_commit(conn, ctx.wake_sender)  # reminders changed
                return out
            answers = updated
        queue.pop(0)
        if queue:
            data = {**session.data, "queue": queue, "stored": stored}
            store.set_session(conn, actor.user_id, actor.chat_id, s.id, UPDATE_MODE, now, data)
            out.append(update_prompt(lang, s, queue[0], answers))
            return out
        _leave(conn, actor, session, now)
        if evaluation is None:
            # Nothing new in this step: re-evaluated at now all the same (/update re-evaluates
            # at now: the deadline or the BSA observation period may have ended).
            _, evaluation = outcomes.reevaluate(conn, ctx, str(actor.user_id), s, now,
                                                      reason="update")  # fmt: skip
        out.append(_result(conn, ctx, lang, s, evaluation, now))
        after_commit(conn, ctx.wake_sender)  # reminders changed
        return out

    outs = await ctx.db.write(body)
    return outs


def _bsa_open(answers: dict[str, AnswerValue], now: dt.datetime, zone: ZoneInfo) -> bool:
    """A new BSA is accepted only within the observation period (today ≤ index date + 10)."""
    index = answers.get("index_date")
    return not isinstance(index, dt.date) or local_today(now, zone) <= bsa_observation_end(index)


def _not_higher(old: AnswerValue | None, new: AnswerValue) -> bool:
    """The highest BSA is kept: a lower (or equal) value does not replace it."""
    return isinstance(old, int | float) and isinstance(new, int | float) and new <= old


def _consent_reminder(conn: Connection, ctx: Context, s: Screening, now: dt.datetime) -> None:
    if not outbox.has_scheduled(conn, s.id, ReminderKind.CONSENT_PATIENT):
        outbox.schedule(conn, s.id, ReminderKind.CONSENT_PATIENT, "reminder",
                              schedule.next_morning(now, ctx.zone),
                              outcomes.consent_recipients(conn, s.clinician_id))  # fmt: skip


def _result(
    conn: Connection,
    ctx: Context,
    lang: str,
    s: Screening,
    evaluation: Evaluation,
    now: dt.datetime,
) -> Out:
    loaded = load(conn, s)
    answers = flow.without_inapplicable(loaded.answers)
    return Out(outcomes.result_lines(lang, s.number, evaluation, answers, now, ctx))


# --- follow-ups -----------------------------------------------------------------------------


async def follow_up_button(ctx: Context, actor: Actor, data: str) -> list[Out]:
    """`f:<screening id>:<follow-up id>:<value>` (value `date`: the date will be typed)."""
    lang = ctx.language(actor)
    button = cd.FOLLOW_UP_ANSWER.decode(data)
    if button is None:
        return _stale(lang, "fu.stale")
    follow_up = FOLLOW_UP_BY_ID[button.follow_up_id]
    value = button.value
    if value not in follow_up.choices and not (follow_up.kind == "date" and value == "date"):
        return _stale(lang, "fu.stale")
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        s = store.get_by_id(conn, button.screening_id)
        if s is None or s.status != store.INJECTED or s.injected_at is None:
            return _stale(lang, "fu.stale")
        stored = (store.current_answers(conn, s.id)).get(follow_up_key(follow_up.id))
        if follow_up_final(follow_up, stored):
            # Pressed on another copy afterwards: nothing changes; that copy shows the answer.
            assert stored is not None
            toast = Out("", toast=t(lang, "fu.already", answer=_fu_answer(lang, stored)))
            view = _answered_view(conn, ctx, s, follow_up)
            if view is None or actor.message_id is None:
                return [toast]
            return [toast, Out(view(lang), edit=actor.message_id)]
        if value == "date":
            _enter(conn, actor, s.id, FU_DATE_MODE, now, {"follow_up": follow_up.id})
            return [Out(t(lang, "fu.ask_date", number=s.number))]
        outs = _record_follow_up(conn, ctx, actor, s, follow_up, value, stored, now)
        copies = answered_copies(conn, ctx, s, follow_up)
        view = _answered_view(conn, ctx, s, follow_up)
        after_commit(conn, ctx.wake_sender)  # reminders changed
        # The pressed copy, then every other copy of the question, edited to show the answer.
        mine = [c for c in copies if (c.chat_id, c.edit) == (actor.chat_id, actor.message_id)]
        others = [c for c in copies if c not in mine]
        if not mine and actor.message_id is not None:
            text = view(lang) if view is not None else outs[0].text
            mine = [Out(text, edit=actor.message_id)]
        return [*mine, *others, *outs[1:]]

    outs = await ctx.db.write(body)
    return outs


async def fu_date_text(ctx: Context, actor: Actor, text: str) -> list[Out]:
    """The typed discharge date."""
    lang = ctx.language(actor)
    now = ctx.now()

    def body(conn: Connection) -> list[Out]:
        begin(conn, actor, now)
        session = _our_session(conn, actor, (FU_DATE_MODE,), None)
        s = (
            store.get_by_id(conn, session.screening_id)
            if session and session.screening_id
            else None
        )
        follow_up = FOLLOW_UP_BY_ID.get(str(session.data.get("follow_up"))) if session else None
        if session is None or s is None or follow_up is None or s.injected_at is None:
            return [Out(t(lang, "fu.stale"))]
        stored = (store.current_answers(conn, s.id)).get(follow_up_key(follow_up.id))
        if s.status != store.INJECTED or follow_up_final(follow_up, stored):
            _leave(conn, actor, session, now)
            return [Out(t(lang, "fu.stale"))]
        d0_day = s.injected_at.astimezone(ctx.zone).date()
        try:
            # Parsed like any date answer (21/11/2026, 21/11, today…), not in the future.
            day = parse_text("admission_date", text, local_today(now, ctx.zone))
        except AnswerError as exc:
            return [Out(t(lang, "fu.invalid", problem=error_text(lang, exc)))]
        assert isinstance(day, dt.date)
        if day < d0_day:
            problem = t(lang, "fu.before_d0", d0=d0_day.strftime("%d/%m/%Y"))
            return [Out(t(lang, "fu.invalid", problem=problem))]
        outs = _record_follow_up(conn, ctx, actor, s, follow_up, day.isoformat(), stored, now)
        outs += answered_copies(conn, ctx, s, follow_up)
        _leave(conn, actor, session, now)
        after_commit(conn, ctx.wake_sender)  # reminders changed
        return outs

    outs = await ctx.db.write(body)
    return outs


def _fu_answer(lang: str, stored: str) -> str:
    value = json.loads(stored)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
    return t(lang, f"c.{value}")


def _record_follow_up(
    conn: Connection,
    ctx: Context,
    actor: Actor,
    s: Screening,
    follow_up: FollowUp,
    value: str,
    old: str | None,
    now: dt.datetime,
) -> list[Out]:
    """Answer row + audit; its daily repeat stops (or waits a week while still in
    hospital); an adverse effect alerts the coordinators at once."""
    lang = ctx.language(actor)
    stored = json.dumps(value)
    key = follow_up_key(follow_up.id)
    store.add_answer(conn, s.id, key, stored, by=actor.user_id, now=now, source="follow_up")
    append_audit(conn, _audit(actor.user_id, "follow_up", now, s.number, field=key,
                                    old_value=old, new_value=stored))  # fmt: skip
    own_store.cancel_scheduled(
        conn, s.id, Cause.ANSWERED, (ReminderKind.FOLLOW_UP,), steps=(follow_up.id,)
    )
    coordinators = user_store.users_with_role(conn, "coordinator")
    out = [Out(t(lang, "fu.recorded", number=s.number, question=t(lang, f"fu.q.{follow_up.id}"),
                 answer=_fu_answer(lang, stored)))]  # fmt: skip
    again = follow_up_next_due(follow_up, stored, now, ctx.zone)
    if again is not None:
        recipients = [outbox.user_recipient(s.injected_by or actor.user_id)]
        recipients += [outbox.user_recipient(c) for c in coordinators]
        outbox.schedule(conn, s.id, ReminderKind.FOLLOW_UP, follow_up.id, again, recipients)
        out.append(Out(t(lang, "fu.still_hospitalised")))
    if follow_up.alert_on is not None and value == follow_up.alert_on:
        out.append(Out("⚠️ " + t(lang, "fu.sae_rule")))
        outbox.schedule(conn, s.id, ReminderKind.ALERT, follow_up.id, now,
                              [outbox.user_recipient(c) for c in coordinators])  # fmt: skip
        append_audit(conn, _audit("system", "alert", now, s.number, field=key,
                                        reason="coordinators alerted: adverse effect"))  # fmt: skip
    return out


def _answered_view(
    conn: Connection, ctx: Context, s: Screening, follow_up: FollowUp
) -> Callable[[str], str] | None:
    """The answered question in a given language (answer, who gave it, when), from the
    latest answer row; None if it has none."""
    key = follow_up_key(follow_up.id)
    rows = [r for r in store.answer_history(conn, s.id) if r.question_id == key]
    if not rows or rows[-1].value is None:
        return None
    latest = rows[-1]
    value: str = rows[-1].value
    who = (own_store.display_names(conn, [latest.answered_by])).get(latest.answered_by)

    def view(lang: str) -> str:
        name = who or t(lang, "fu.who_id", id=latest.answered_by)
        return answered_message(lang, s, follow_up, ctx.zone, _fu_answer(lang, value), name,
                                latest.answered_at)  # fmt: skip

    return view


def answered_copies(conn: Connection, ctx: Context, s: Screening, follow_up: FollowUp) -> list[Out]:
    """Every copy of the question sent so far and not answered yet (the injecting
    clinician's, the coordinators', each day's), noted answered (who, when: the log) and
    edited to show the answer, in its reader's language, without buttons."""
    view = _answered_view(conn, ctx, s, follow_up)
    if view is None:
        return []
    key = follow_up_key(follow_up.id)
    latest = [r for r in store.answer_history(conn, s.id) if r.question_id == key][-1]
    copies = [
        m
        for m in own_store.sent_messages(conn, s.id, ReminderKind.FOLLOW_UP)
        if m.step == follow_up.id
    ]
    marked = set(
        own_store.mark_answered(
            conn, [m.reminder_id for m in copies], latest.answered_by, latest.answered_at
        )
    )
    outs = []
    for copy in copies:
        if copy.reminder_id not in marked:
            continue  # answered before (still in hospital, a week ago): it says so already
        lang: str = ctx.settings.language or "fr"
        if copy.chat_id > 0:
            lang = ctx.language_of(user_store.get_user(conn, copy.chat_id))
        outs.append(Out(view(lang), chat_id=copy.chat_id, edit=copy.message_id))
    return outs


# --- registration ---------------------------------------------------------------------------


FEATURE = routing.Feature(
    "injection",
    commands=(
        routing.Command("d0", d0),
        routing.Command("withdraw", withdraw),
        routing.Command("update", update),
    ),
    callbacks=(
        routing.Callback(Prefix.D0, "d0", d0_button),
        routing.Callback(Prefix.WITHDRAW, "withdraw", withdraw_button),
        routing.Callback(Prefix.UPDATE, "update", update_button),
        # Follow-ups go to clinicians and coordinators: /status has exactly those roles.
        routing.Callback(Prefix.FOLLOW_UP, "status", follow_up_button),
    ),
    text_modes=(
        routing.TextMode(D0_REASON_MODE, "d0", d0_reason_text),
        routing.TextMode(D0_CONFIRM_MODE, "d0", d0_confirm_text),
        routing.TextMode(UPDATE_MODE, "update", update_text),
        routing.TextMode(WITHDRAW_CONFIRM_MODE, "withdraw", withdraw_confirm_text),
        routing.TextMode(FU_DATE_MODE, "status", fu_date_text),
    ),
)
