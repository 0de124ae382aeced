"""The record stays true whatever the coordinators and clinicians do, in any order (issue 22,
point 7): a hypothesis state machine over the real routes, in-process (tests/bot/desk.py),
with the injected clock — /screen (and its "continue / open a new one" question), answers
tapped or typed (valid or not), /back, /cancel, /resume, /update, /correct (any field, by
its id or its label, any value, a unit typed or not), /withdraw, /d0 (late ones with a
reason), follow-up answers, any button on screen (stale ones included), and the clock moving
on — minutes to weeks, past the D0 window — with the reminder sender running.

After every step, for every screening:

- every view agrees: /status lists exactly the open patients, the CSV row, the REDCap record,
  /patient and the CONSORT boxes say what `conversations.standing` says;
- no reachable state is a dead end: its (status, outcome) pair is in the lifecycle table
  (docs/LIFECYCLE.md), a screening in progress waits for something /resume can ask, and a
  patient awaiting D0 has the window's close still planned;
- D0 facts, once recorded, never change;
- the audit trail alone rebuilds the record (`conversations.replay`);
- the audit chain verifies.

SQLite only. Steps: about 300 by default; `LYSYME_STATEFUL_STEPS=2000` (CI) runs at least
that many. The number run is printed (`-s`) and checked."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Connection

from bot import callback_data as cd
from bot.common import Context
from bot.exports import fields
from bot.settings import load_settings
from bot.texts import t
from bot.views import export as export_view
from bot.views import patient as patient_view
from bot.views import status as status_view
from conversations import consort
from conversations.d0 import D0Facts
from conversations.lifecycle import moves
from conversations.protocol import BY_ID, Kind
from conversations.replay import differences
from conversations.schedule import WINDOW_CLOSED
from conversations.standing import standing
from storage import queries
from storage import reminders as outbox
from storage import users as user_store
from storage.audit import VerifyResult, verify_chain
from storage.open import open_database
from tests.bot.desk import ELIGIBLE_PLAN, SCORTEN_PLAN, Desk, local_day, text_of
from tests.conftest import FakeClock, no_such_day
from tests.conversations.support import NOW

CLINICIAN, OTHER_CLINICIAN, COORDINATOR = 101, 102, 202
STAFF = (CLINICIAN, OTHER_CLINICIAN, COORDINATOR)
CLINICIANS = (CLINICIAN, OTHER_CLINICIAN)

#: Steps of one example; examples run until the total reaches the target.
STEPS_PER_EXAMPLE = 30
DEFAULT_STEPS = 300
STEPS_ENV = "LYSYME_STATEFUL_STEPS"

#: What a clinician may type at a number question (valid, out of range, with a unit, junk).
TYPED_NUMBERS = ("54", "80", "17", "35 %", "5", "9,5", "72,5", "250", "29", "abc", "-3", "68 kg")
TYPED_DATES = ("ago:0", "ago:1", "ago:2", "ago:5", "ago:12", "ago:-1", no_such_day(), "hier")
SCORTEN_TYPED = ("125", "60", "12", "2,6", "2,6 g/L", "8", "40", "14 mmol/L", "abc", "0")
#: /correct: a name (id, label in either language, unknown), a value (with or without unit).
CORRECT_FIELDS = (
    "poids", "Poids", "weight_kg", "age", "Âge", "hiv_positive", "Sérologie VIH", "consent",
    "max_bsa_percent", "admission_date", "index_date", "scorten:glucose", "glucose", "urea",
    "injected_at", "withdrawal", "taille", "sex", "ward", "pregnant_or_breastfeeding",
    "social_security", "diagnosis_confirmed", "consent_by", "sars_cov2_positive",
)  # fmt: skip
CORRECT_VALUES = (
    "no", "non", "yes", "oui", "pending", "en attente", "75", "75,5", "82 kg", "60", "2,6",
    "2,6 g/L", "14 mmol/L", "obtained", "refused", "ago:1", "ago:3", "ago:20", "at:0", "at:1",
    "cancel", "annuler", "male", "female", "icu", "patient", "x", "35 %", "5",
)  # fmt: skip
TYPED_ANYTHING = ("oui", "non", "54", "retard de livraison", "2,6", "/", "hier", "ago:1")
CLOCK_STEPS = (
    dt.timedelta(minutes=5), dt.timedelta(hours=1), dt.timedelta(hours=3),
    dt.timedelta(hours=13), dt.timedelta(days=1), dt.timedelta(days=2), dt.timedelta(days=8),
    dt.timedelta(days=31),
)  # fmt: skip
OPEN_CATEGORIES = frozenset({"in_screening", "eligible", "pending"})

steps_run = 0
#: (status, outcome) pairs reached, over the whole run: printed with the step count.
reached: Counter[tuple[str, str | None]] = Counter()
T = TypeVar("T")

#: What one check reads, in one snapshot: the chain, the records replayed and stored, the
#: export's data, and whether something closes each screening's D0 window.
Snapshot = tuple[VerifyResult, dict[str, Any], dict[str, Any], export_view.ExportData,
                 dict[int, bool]]  # fmt: skip


def numbers() -> st.SearchStrategy[str]:
    return st.integers(1, 5).map(lambda n: f"HMN-{n:03d}")


class RecordMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        shm = Path("/dev/shm")
        self.folder = tempfile.mkdtemp(prefix="lysyme-machine-", dir=shm if shm.is_dir() else None)
        self.clock = FakeClock(NOW)
        settings_ = load_settings(
            LYSYME_DATABASE=str(Path(self.folder) / "machine.sqlite3"),
            LYSYME_LANGUAGE="en",
            LYSYME_TEAM_CHAT_ID="-100",
            LYSYME_TIMEZONE="Europe/Paris",
            LYSYME_SITE_CODE="HMN",
        )
        self.ctx = Context(
            settings=settings_, db=self.run(open_database(settings_.database)), clock=self.clock
        )
        self.run(self._staff())
        self.desk = Desk(self.ctx)
        self.d0_facts: dict[str, D0Facts] = {}
        self.checks = 0

    def run(self, awaitable: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(awaitable)

    async def _staff(self) -> None:
        def grant(conn: Connection) -> None:
            for user, role in zip(STAFF, ("clinician", "clinician", "coordinator"), strict=True):
                user_store.grant_roles(conn, user, {role}, "test", NOW)

        await self.ctx.db.write(grant)

    def teardown(self) -> None:
        try:
            self.run(self.ctx.db.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def _step(self) -> None:
        global steps_run
        steps_run += 1

    def _words(self, text: str) -> str:
        """`ago:N` → the date N days before today (dd/mm/yyyy); `at:N` → that day at 08:00."""
        words = []
        for word in text.split():
            if word.startswith(("ago:", "at:")):
                kind, _, days = word.partition(":")
                day = local_day(self.desk, int(days)).strftime("%d/%m/%Y")
                words.append(day if kind == "ago" else f"{day} 08:00")
            else:
                words.append(word)
        return " ".join(words)

    # --- the screening ------------------------------------------------------------------

    @rule(
        user=st.sampled_from(CLINICIANS),
        choice=st.sampled_from(("new", "go")),
        count=st.sampled_from((0, 3, 12, 40, 40, 40)),
        others=st.sets(st.integers(0, 39), max_size=2),
        pick=st.integers(0, 20),
    )
    def screen(self, user: int, choice: str, count: int, others: set[int], pick: int) -> None:
        """/screen (asked first when one is open: continue it or open a new one), then what
        it asks answered `count` times (as `answer` does): most screenings reach their end."""
        self._step()
        outs = self.run(self.desk.command(user, "/screen"))
        if any(isinstance(cd.decode(b.data), cd.ScreenChoice) for o in outs for r in o.buttons for b in r):  # fmt: skip
            self.run(self.desk.tap_first(
                user, lambda b: isinstance(b, cd.ScreenChoice) and b.action == choice
            ))  # fmt: skip
        self._answers(user, count, others, pick)

    @rule(user=st.sampled_from(CLINICIANS), number=numbers())
    def rescreen(self, user: int, number: str) -> None:
        self._step()
        self.run(self.desk.command(user, f"/screen {number}"))

    @rule(
        user=st.sampled_from(CLINICIANS),
        count=st.integers(1, 30),
        others=st.sets(st.integers(0, 29), max_size=2),
        pick=st.integers(0, 20),
    )
    def answer(self, user: int, count: int, others: set[int], pick: int) -> None:
        """What waits on this user's screen answered, `count` times in a row: a question as
        planned (an eligible patient) — or, at the positions `others`, another value tapped
        or typed (valid or not) —, the exclusion confirmed (or changed), the summary
        confirmed (or "change an answer"), a SCORTEN value typed."""
        self._step()
        self._answers(user, count, others, pick)

    def _answers(self, user: int, count: int, others: set[int], pick: int) -> None:
        for position in range(count):
            how = "other" if position in others else "plan"
            if not self.run(self._answer(user, how, pick + position)):
                break

    async def _answer(self, user: int, how: str, pick: int) -> bool:
        from storage import screenings as store

        def on_screen(conn: Connection) -> tuple[store.Session | None, store.Screening | None]:
            session = store.get_session(conn, user, user)
            s = (
                store.get_by_id(conn, session.screening_id)
                if session is not None and session.screening_id is not None
                else None
            )
            return session, s

        session, s = await self.ctx.db.read(on_screen)
        if s is None or session is None or session.mode != "screen":
            return False
        if s.stage == "scorten":
            measure = (s.cursor or "heart_rate").partition("@")[0]
            text = SCORTEN_PLAN[measure] if how == "plan" else SCORTEN_TYPED[pick % 10]
            await self.desk.type(user, text)
            return True
        if s.stage in ("confirm_exclusion", "summary"):
            family = cd.Exclusion if s.stage == "confirm_exclusion" else cd.Summary
            action = "ok" if how == "plan" else ("chg" if family is cd.Exclusion else "edit")
            shown = self.desk.buttons(
                user, lambda b: isinstance(b, family) and b.screening_id == s.id
            )
            chosen = [(m, b) for m, b in shown if cd.decode(b.data).action == action]  # type: ignore[union-attr]
            if not chosen:
                return False
            await self.desk.tap(user, *chosen[0])
            return True
        if s.stage != "question" or s.cursor is None:
            return False
        q = BY_ID[s.cursor]
        if how == "plan":
            kind, value = ELIGIBLE_PLAN[q.id]
        elif q.kind in (Kind.BOOLEAN, Kind.CHOICE):
            choices = ("yes", "no") if q.kind is Kind.BOOLEAN else q.choices
            kind, value = "tap", choices[pick % len(choices)]
        elif q.kind is Kind.DATE:
            kind, value = "type", TYPED_DATES[pick % len(TYPED_DATES)]
        else:
            kind, value = "type", TYPED_NUMBERS[pick % len(TYPED_NUMBERS)]
        if kind == "type":
            await self.desk.type(user, self._words(value))
            return True
        if value.startswith("ago:"):
            value = local_day(self.desk, int(value[4:])).isoformat()
        shown = self.desk.buttons(
            user,
            lambda b: isinstance(b, cd.Answer) and b.question_id == q.id and b.value == value,
        )
        if not shown:
            return False
        await self.desk.tap(user, *shown[0])
        return True

    @rule(user=st.sampled_from(STAFF), pick=st.integers(0, 1000))
    def tap_any(self, user: int, pick: int) -> None:
        """Any button on this user's screen, however old (confirm, change, summary, units,
        not available, /d0, /withdraw and /update buttons, follow-ups, stale ones)."""
        self._step()
        shown = self.desk.buttons(user)
        if shown:
            self.run(self.desk.tap(user, *shown[pick % len(shown)]))

    @rule(user=st.sampled_from(STAFF), text=st.sampled_from(TYPED_ANYTHING))
    def type_anything(self, user: int, text: str) -> None:
        """Typed text in whatever mode the chat is (an answer, a reason, a discharge date)."""
        self._step()
        self.run(self.desk.type(user, self._words(text)))

    @rule(user=st.sampled_from(CLINICIANS))
    def back(self, user: int) -> None:
        self._step()
        self.run(self.desk.command(user, "/back"))

    @rule(user=st.sampled_from(CLINICIANS))
    def cancel(self, user: int) -> None:
        self._step()
        self.run(self.desk.command(user, "/cancel"))

    @rule(user=st.sampled_from(CLINICIANS), number=numbers())
    def resume(self, user: int, number: str) -> None:
        self._step()
        self.run(self.desk.command(user, f"/resume {number}"))

    # --- after the screening ------------------------------------------------------------

    @rule(user=st.sampled_from(CLINICIANS), number=numbers())
    def update(self, user: int, number: str) -> None:
        self._step()
        self.run(self.desk.command(user, f"/update {number}"))

    @rule(
        number=numbers(),
        name=st.sampled_from(CORRECT_FIELDS),
        value=st.sampled_from(CORRECT_VALUES),
        reason=st.sampled_from(("vérif", "erreur de saisie", "")),
    )
    def correct(self, number: str, name: str, value: str, reason: str) -> None:
        self._step()
        words = f"/correct {number} {name} {self._words(value)} {reason}"
        self.run(self.desk.command(COORDINATOR, words))

    @rule(number=numbers(), reason=st.sampled_from(("erreur de saisie", "vérif")))
    def correct_the_failing_answer(self, number: str, reason: str) -> None:
        """/correct of the answer that excluded the patient, to what an eligible patient
        answers: the questions never asked make it incomplete — reopened, never a dead end."""
        self._step()
        self.run(self._correct_failing(number, reason))

    async def _correct_failing(self, number: str, reason: str) -> None:
        from storage import screenings as store

        s = await self.ctx.db.read(store.get_by_number, number)
        if s is None or s.outcome != "not_eligible" or not s.reasons:
            return
        question = s.reasons[0]
        if question not in ELIGIBLE_PLAN:
            return
        value = ELIGIBLE_PLAN[question][1]
        await self.desk.command(
            COORDINATOR, f"/correct {number} {question} {self._words(value)} {reason}"
        )

    @rule(user=st.sampled_from(CLINICIANS), number=numbers(), confirm=st.booleans())
    def withdraw(self, user: int, number: str, confirm: bool) -> None:
        self._step()

        self.run(self.desk.command(user, f"/withdraw {number} consentement retiré"))
        if confirm:
            shown = self.desk.buttons(user, lambda b: isinstance(b, cd.WithdrawConfirm))
            ok = [(m, b) for m, b in shown if cd.decode(b.data).action == "ok"]  # type: ignore[union-attr]
            if ok:
                self.run(self.desk.tap(user, *ok[0]))

    @rule(
        user=st.sampled_from(CLINICIANS),
        number=numbers(),
        when=st.sampled_from(("", "", "at:0", "at:1")),
        confirm=st.booleans(),
    )
    def d0(self, user: int, number: str, when: str, confirm: bool) -> None:
        self._step()

        self.run(self.desk.command(user, f"/d0 {number} {self._words(when)}".strip()))
        if confirm:
            shown = self.desk.buttons(user, lambda b: isinstance(b, cd.D0Confirm))
            ok = [(m, b) for m, b in shown if cd.decode(b.data).action == "ok"]  # type: ignore[union-attr]
            if ok:
                self.run(self.desk.tap(user, *ok[0]))

    @rule(delta=st.sampled_from(CLOCK_STEPS))
    def time_passes(self, delta: dt.timedelta) -> None:
        """The clock moves on; the reminder sender runs (windows close, idle screenings are
        abandoned, follow-ups are asked)."""
        self._step()
        self.clock.advance(seconds=delta.total_seconds())
        self.run(self.desk.sweep(self.clock.now))

    # --- after every step ---------------------------------------------------------------

    @invariant()
    def the_record_stays_true(self) -> None:
        self.run(self.check())
        self.checks += 1

    async def check(self) -> None:
        coordinator = await self.desk.actor(COORDINATOR)

        def snapshot(conn: Connection) -> Snapshot:
            data = export_view.read_export(conn)
            window_close = {
                s.id: any(
                    r.kind == "d0_window" and r.step == WINDOW_CLOSED
                    and r.state in ("scheduled", "claimed")
                    for r in outbox.for_screening(conn, s.id)
                )
                for s in data.screenings
            }  # fmt: skip
            return (verify_chain(conn), queries.replayed_records(conn),
                    queries.stored_records(conn), data, window_close)  # fmt: skip

        chain, replayed, stored, data, window_close = await self.ctx.db.read(snapshot)
        assert chain.ok, chain.problem
        assert replayed == stored, differences(replayed, stored)
        listed = text_of(await status_view.status(self.ctx, coordinator, []))
        flow = export_view.consort_of(data)
        assert sum(flow.boxes.values()) == flow.screened
        summary = consort.summary_counts(data.screenings)
        for s in data.screenings:
            where = standing(s)
            reached[(s.status, where.outcome)] += 1
            values = data.values.get(s.id, {})
            # No dead end.
            assert moves(s.status, where.outcome) is not None, (s.number, s.status, s.outcome)
            if s.status == "in_screening":
                assert s.stage in ("question", "confirm_exclusion", "summary"), s.stage
                if s.stage == "question":
                    assert s.cursor in BY_ID, (s.number, s.cursor)
            awaiting = s.status == "screened" and where.outcome in ("eligible", "pending")
            if awaiting and s.injected_at is None and s.d0_deadline is not None:
                assert window_close[s.id], f"{s.number}: nothing closes its D0 window"
            # Every view agrees.
            is_open = where.category in OPEN_CATEGORIES
            assert (f"<b>{s.number}</b>" in listed) == is_open, (s.number, where)
            row = dict(
                zip(
                    export_view.SCREENING_COLUMNS,
                    export_view._screening_row(s, values, self.ctx.zone, None),
                    strict=True,
                )
            )
            assert (row["status"], row["outcome"]) == (where.status, where.outcome), s.number
            assert row["failed"] == list(where.failed), s.number
            assert row["pending"] == list(where.pending), s.number
            assert fields.record(s, values)["outcome"] == where.outcome, s.number
            if where.outcome is None:
                assert not where.failed and not where.pending and not where.missing
            # D0 facts never change once recorded.
            facts = stored[s.number].d0
            if s.number in self.d0_facts:
                assert facts == self.d0_facts[s.number], s.number
            elif facts is not None:
                self.d0_facts[s.number] = facts
            if s.injected_at is not None:
                assert facts is not None, f"{s.number}: injected without its D0 facts"
        patients = consort.group_patients(data.screenings)
        for patient in patients:
            chosen = patient.chosen
            box = flow.box_of.get(patient.root)
            if chosen is None:
                assert box == "in_progress", (patient.root, box)
                continue
            kind = standing(chosen).category
            expected = {
                "injected": {"injected"},
                "withdrawn": {"withdrawn"},
                "window_missed": {"window_missed"},
                "abandoned": {"abandoned"},
                "not_eligible": {"criteria_not_met", "consent_refused"},
            }.get(kind, {"in_progress"})
            assert box in expected, (patient.root, kind, box)
        # The CONSORT flow counts every patient who began a screening; /status's "screened",
        # the patients with a closed one: they differ by the patients still in their first.
        first = sum(1 for p in patients if p.chosen is None)
        assert flow.screened == summary["screened"] + first
        # /patient, for one screening per step (in turn): its outcome as standing says.
        if data.screenings:
            s = data.screenings[self.checks % len(data.screenings)]
            where = standing(s)
            shown = text_of(await patient_view.patient(self.ctx, coordinator, [s.number]))
            line = t("en", "pt.outcome", outcome="")
            if where.outcome is None:
                assert line.strip() not in shown, s.number
            else:
                word = t("en", "pt.outcome", outcome=t("en", f"outcome.{where.outcome}"))
                assert word in shown, (s.number, where.outcome)


def target_steps() -> int:
    raw = os.environ.get(STEPS_ENV, "").strip()
    return int(raw) if raw else DEFAULT_STEPS


def test_the_record_stays_true_whatever_happens() -> None:
    global steps_run
    steps_run = 0
    reached.clear()
    target = target_steps()
    examples = max(1, -(-target // STEPS_PER_EXAMPLE))
    machine_settings = settings(
        max_examples=examples,
        stateful_step_count=STEPS_PER_EXAMPLE,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    runs = 0
    while steps_run < target and runs < 20:  # a run may stop early: run again until reached
        run_state_machine_as_test(RecordMachine, settings=machine_settings)
        runs += 1
    print(f"\nstateful record test: {steps_run} steps in {runs} run(s) (target {target})")
    print("pairs reached (screening-checks):", dict(sorted(reached.items(), key=str)))
    assert steps_run >= target
