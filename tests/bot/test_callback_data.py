"""The callback-data codec (bot/callback_data.py): what a button carries comes back as itself,
forged or malformed data decodes to None (the flows then refuse a stale button), every string
is byte for byte what the bot sent before the codec (buttons already in chats keep working),
Telegram's 64-byte limit is checked when a button is made, and the routes use its prefixes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import app
from bot import callback_data as cd
from bot.callback_data import CallbackDataError, Codec, Family, Prefix
from bot.common import MAX_TELEGRAM_ID
from conversations.protocol import QUESTIONS, UPDATABLE, Kind
from conversations.schedule import FOLLOW_UPS
from conversations.scorten import MEASURE_IDS

ids = st.integers(min_value=1, max_value=MAX_TELEGRAM_ID)
small_ids = st.integers(min_value=1, max_value=10**9)
questions = st.sampled_from([q.id for q in QUESTIONS])
measures = st.sampled_from(MEASURE_IDS)
follow_ups = st.sampled_from([f.id for f in FOLLOW_UPS])
tokens = st.from_regex(r"[A-Za-z0-9_.-]{1,10}", fullmatch=True)
# The numbers a SCORTEN unit button carries (Python writes them without an exponent).
numbers = st.floats(min_value=0.0001, max_value=999_999.0)

values: st.SearchStrategy[cd.CallbackValue] = st.one_of(
    st.builds(cd.Answer, ids, questions, tokens),
    st.builds(cd.Back, ids, questions),
    st.builds(cd.Exclusion, ids, st.sampled_from(["ok", "chg"])),
    st.builds(cd.Summary, ids, st.sampled_from(["ok", "edit"])),
    st.builds(cd.Edit, ids, questions),
    st.builds(cd.Scorten, ids, measures, st.sampled_from(["na", "gl", "mm"])),
    st.builds(cd.ScortenUnit, ids, measures, st.sampled_from(["gl", "mm"]), numbers),
    st.builds(cd.D0Confirm, ids, st.sampled_from(["ok", "no"])),
    st.builds(cd.WithdrawConfirm, ids, st.sampled_from(["ok", "no"])),
    st.builds(cd.UpdateAnswer, ids, questions, tokens),
    st.builds(cd.UpdateConfirm, ids, questions, tokens),
    st.builds(cd.FollowUpAnswer, ids, follow_ups, tokens),
    st.builds(cd.ExportFormat, tokens),
    st.builds(cd.Ownership, ids, ids, st.sampled_from(["t", "p", "n"])),
    st.just(cd.ClockConfirm()),
)

FAMILY_OF: dict[type, Family[Any]] = {family.value_type: family for family in cd.CODEC.families}


# --- round trips ------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(values)
def test_every_value_comes_back_as_itself(value: cd.CallbackValue) -> None:
    data = cd.encode(value)
    assert len(data.encode()) <= cd.MAX_BYTES
    assert cd.decode(data) == value
    assert FAMILY_OF[type(value)].decode(data) == value
    assert cd.prefix_of(data) is FAMILY_OF[type(value)].prefix


@settings(max_examples=300, deadline=None)
@given(values, values)
def test_a_family_decodes_only_its_own_data(value: cd.CallbackValue, other: Any) -> None:
    family = FAMILY_OF[type(value)]
    decoded = family.decode(cd.encode(other))
    assert decoded == (other if type(other) is type(value) else None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=70))
def test_any_text_decodes_to_none_or_to_what_encodes_back_to_it(data: str) -> None:
    decoded = cd.decode(data)
    assert decoded is None or cd.encode(decoded) == data


# --- byte-identical with the buttons sent before the codec -------------------------------------


@settings(max_examples=150, deadline=None)
@given(small_ids, small_ids)
def test_every_button_is_the_string_the_bot_sent_before(sid: int, rid: int) -> None:
    """The f-strings the flows used to build, side by side with the codec's output."""
    legacy: list[tuple[cd.CallbackValue, str]] = []
    for q in QUESTIONS:
        answers = {Kind.BOOLEAN: ["yes", "no"], Kind.CHOICE: list(q.choices)}.get(q.kind, [])
        if q.kind is Kind.DATE:
            answers = ["today", "yesterday", "2026-11-28", "keep"]
        if q.kind in (Kind.INTEGER, Kind.NUMBER):
            answers = ["keep"]
        for value in answers:
            legacy.append((cd.Answer(sid, q.id, value), f"a:{sid}:{q.id}:{value}"))
        legacy.append((cd.Back(sid, q.id), f"b:{sid}:{q.id}"))
        legacy.append((cd.Edit(sid, q.id), f"e:{sid}:{q.id}"))
        if q.id in UPDATABLE or q.id == "consent_by":
            for value in [*q.choices, "skip", "ask"]:
                legacy.append((cd.UpdateAnswer(sid, q.id, value), f"u:{sid}:{q.id}:{value}"))
            for value in q.choices:
                legacy.append((cd.UpdateConfirm(sid, q.id, value), f"u:{sid}:{q.id}:{value}:c"))
    legacy += [
        (cd.Summary(sid, "ok"), f"s:{sid}:ok"),
        (cd.Summary(sid, "edit"), f"s:{sid}:edit"),
        (cd.Exclusion(sid, "ok"), f"x:{sid}:ok"),
        (cd.Exclusion(sid, "chg"), f"x:{sid}:chg"),
        (cd.D0Confirm(sid, "ok"), f"d:{sid}:ok"),
        (cd.D0Confirm(sid, "no"), f"d:{sid}:no"),
        (cd.WithdrawConfirm(sid, "ok"), f"w:{sid}:ok"),
        (cd.WithdrawConfirm(sid, "no"), f"w:{sid}:no"),
        (cd.ClockConfirm(), "k:clock"),
        (cd.ScreenChoice(sid, "go"), f"n:{sid}:go"),
        (cd.ScreenChoice(sid, "new"), f"n:{sid}:new"),
    ]
    for measure in MEASURE_IDS:
        for action in ("na", "gl", "mm"):
            legacy.append((cd.Scorten(sid, measure, action), f"m:{sid}:{measure}:{action}"))
        for number in (0.4, 14.0, 2.523, 120.0, 0.06):
            for code in ("gl", "mm"):
                legacy.append((cd.ScortenUnit(sid, measure, code, number),
                               f"m:{sid}:{measure}:v:{code}:{number!r}"))  # fmt: skip
    for follow_up in FOLLOW_UPS:
        for value in [*follow_up.choices, *(["date"] if follow_up.kind == "date" else [])]:
            legacy.append((cd.FollowUpAnswer(sid, follow_up.id, value),
                           f"f:{sid}:{follow_up.id}:{value}"))  # fmt: skip
    for name in ("xlsx", "csv", "redcap", "odm"):
        legacy.append((cd.ExportFormat(name), f"xf:{name}"))
    for action in ("t", "p", "n"):
        legacy.append((cd.Ownership(sid, rid, action), f"o:{sid}:{rid}:{action}"))  # type: ignore[arg-type]
    legacy.append((cd.InvitationRevoke(sid), f"iv:{sid}:rv"))  # issue 24
    legacy.append((cd.AccessExtend(rid, "2027-05-31"), f"ax:{rid}:2027-05-31"))
    for button, old in legacy:
        assert cd.encode(button) == old
        assert cd.decode(old) == button  # a button already in a chat still works
    assert {cd.prefix_of(old) for _, old in legacy} == set(Prefix)


def test_the_jobs_clock_button_and_the_ownership_words_are_unchanged() -> None:
    from bot.reminders import state

    assert state.CLOCK_CONFIRM_DATA == "k:clock"
    assert (cd.TAKE, cd.PLAN, cd.NOT_INJECTING) == ("t", "p", "n")


# --- forged and malformed data ----------------------------------------------------------------

VALID: dict[Family[Any], str] = {
    cd.SCREEN_CHOICE: "n:12:go",
    cd.ANSWER: "a:12:ward:icu",
    cd.BACK: "b:12:ward",
    cd.EXCLUSION: "x:12:ok",
    cd.SUMMARY: "s:12:edit",
    cd.EDIT: "e:12:age",
    cd.SCORTEN: "m:12:urea:gl",
    cd.SCORTEN_UNIT: "m:12:urea:v:gl:0.4",
    cd.D0_CONFIRM: "d:12:ok",
    cd.WITHDRAW_CONFIRM: "w:12:no",
    cd.UPDATE_ANSWER: "u:12:consent:obtained",
    cd.UPDATE_CONFIRM: "u:12:consent:refused:c",
    cd.FOLLOW_UP_ANSWER: "f:12:discharge_date:date",
    cd.EXPORT_FORMAT: "xf:redcap",
    cd.OWNERSHIP: "o:12:41:t",
    cd.CLOCK_CONFIRM: "k:clock",
    cd.INVITATION_REVOKE: "iv:7:rv",
    cd.ACCESS_EXTEND: "ax:2002:2027-05-31",
}

#: Per family, each field replaced by values it must refuse.
BAD_FIELD: dict[str, list[str]] = {
    "positive id": ["x", "0", "-1", "01", "+1", "1.0", " 1", "²", "١", "𝟙", "9" * 20, ""],
    "question id": ["nonexistent", "Ward", "ward ", "heart_rate", ""],
    "SCORTEN measure": ["nonsense", "age", "Urea", ""],
    "follow-up id": ["unknown", "follow_up", ""],
    "token": ["", "é", "a b", "２０２６-11-19", "a\x00", "🙂"],
    "decimal number": ["", ".", "1e9", "NaN", "inf", "-1", ".5", "5.", "04", "1,5", "²"],
    "word": ["", "maybe", "OK", "ok ", "x"],
    "constant": ["", "V", "vv", "x", "C", "clocks"],
}


def _kind(field: cd.Field) -> str:
    if field.constant is not None:
        return "constant"
    return next((k for k in BAD_FIELD if field.what.startswith(k)), "word")


def test_the_valid_examples_decode() -> None:
    assert set(VALID) == set(cd.CODEC.families)
    for family, data in VALID.items():
        decoded = family.decode(data)
        assert decoded is not None, data
        assert cd.encode(decoded) == data


@pytest.mark.parametrize("family", list(VALID), ids=lambda f: f.value_type.__name__)
def test_forged_or_malformed_data_decodes_to_none(family: Family[Any]) -> None:
    data = VALID[family]
    parts = data.split(":")
    forged = [
        "",
        ":",
        family.prefix.value,
        family.prefix.value + ":",
        data + ":",  # a field too many
        data + ":ok",
        ":".join(parts[:-1]),  # a field too few
        ":" + data,
        data.upper() if data != data.upper() else data.lower(),
        "zz" + data[len(family.prefix.value) :],  # another prefix
        data + "x" * (cd.MAX_BYTES - len(data) + 1),  # too long
        data.replace(":", ";"),
    ]
    for index, field in enumerate(family.fields, start=1):
        for bad in BAD_FIELD[_kind(field)]:
            forged.append(":".join([*parts[:index], bad, *parts[index + 1 :]]))
    for text in forged:
        if text == data:
            continue
        assert family.decode(text) is None, text
        assert cd.decode(text) is None or cd.decode(text) != family.decode(data), text


def test_anything_that_is_not_a_string_decodes_to_none() -> None:
    for data in (None, 12, b"a:1:ward:icu", ["a", "1"]):
        assert cd.decode(data) is None
        assert cd.ANSWER.decode(data) is None
        assert cd.prefix_of(data) is None


def test_data_over_64_bytes_is_refused_even_with_a_valid_shape() -> None:
    longest_token = "x" * (cd.MAX_BYTES - len("f:1:discharge_date:"))
    assert cd.decode(f"f:1:discharge_date:{longest_token}") is not None  # 64 bytes exactly
    assert cd.decode(f"f:1:discharge_date:{longest_token}x") is None
    assert cd.decode("a:1:" + "\ud800" * 21) is None  # a lone surrogate: 3 bytes, no crash


def test_prefix_of_names_the_route_or_nothing() -> None:
    assert cd.prefix_of("xf:csv") is Prefix.EXPORT
    assert cd.prefix_of("x:1:ok") is Prefix.EXCLUSION
    assert cd.prefix_of("a") is Prefix.ANSWER  # routed, then refused by the flow as stale
    for data in ("", "zz:1", "A:1:ward:icu", " a:1", "🙂:🙂", "a" * 65):
        assert cd.prefix_of(data) is None, data


# --- the 64-byte check and the other refusals at encode ----------------------------------------


def test_a_button_over_64_bytes_is_refused_when_it_is_made() -> None:
    fits = cd.Answer(1, "ward", "x" * (cd.MAX_BYTES - len("a:1:ward:")))
    assert len(cd.encode(fits)) == 64
    with pytest.raises(CallbackDataError, match=r"65 bytes; Telegram allows 64"):
        cd.encode(cd.Answer(1, "ward", "x" * (cd.MAX_BYTES - len("a:1:ward:") + 1)))


def test_every_button_the_bot_makes_fits_even_with_the_largest_ids() -> None:
    big = MAX_TELEGRAM_ID
    for q in QUESTIONS:
        for value in (*q.choices, "yes", "no", "yesterday", "2026-11-28", "keep", "skip", "ask"):
            cd.encode(cd.Answer(big, q.id, value))
            cd.encode(cd.UpdateAnswer(big, q.id, value))
            cd.encode(cd.UpdateConfirm(big, q.id, value))
    for measure in MEASURE_IDS:
        cd.encode(cd.ScortenUnit(big, measure, "gl", 123456.123456))
    for follow_up in FOLLOW_UPS:
        for value in (*follow_up.choices, "date"):
            cd.encode(cd.FollowUpAnswer(big, follow_up.id, value))
    cd.encode(cd.Ownership(big, big, "n"))


@pytest.mark.parametrize(
    "value",
    [
        cd.Answer(0, "ward", "icu"),  # ids are positive
        cd.Answer(-3, "ward", "icu"),
        cd.Answer(MAX_TELEGRAM_ID + 1, "ward", "icu"),
        cd.Answer(True, "ward", "icu"),
        cd.Answer(1, "nonexistent", "icu"),
        cd.Answer(1, "ward", "a:b"),  # would split into another field
        cd.Answer(1, "ward", ""),
        cd.Summary(1, "nope"),  # type: ignore[arg-type]
        cd.ScortenUnit(1, "urea", "gl", 1e-05),  # Python writes it with an exponent
        cd.ScortenUnit(1, "urea", "gl", float("nan")),
        cd.ScortenUnit(1, "urea", "gl", -1.0),
        cd.ScortenUnit(1, "urea", "gl", 14),  # an int: "14" would come back as 14.0
        cd.Ownership(1, 2, "x"),  # type: ignore[arg-type]
        cd.FollowUpAnswer(1, "unknown", "yes"),
    ],
)
def test_a_value_that_would_not_come_back_as_itself_is_refused(value: Any) -> None:
    with pytest.raises(CallbackDataError):
        cd.encode(value)


def test_only_declared_values_encode() -> None:
    with pytest.raises(CallbackDataError, match="no callback family"):
        cd.encode("a:1:ward:icu")  # type: ignore[arg-type]
    with pytest.raises(CallbackDataError, match="is not a Back"):
        cd.BACK.encode(cd.Edit(1, "age"))  # type: ignore[arg-type]


# --- one source of truth for the prefixes -----------------------------------------------------


@dataclass(frozen=True)
class Stray:
    screening_id: int
    question_id: str


def test_the_bot_routes_exactly_the_codecs_prefixes() -> None:
    assert set(app.routes().callbacks) == set(Prefix)


def test_a_codec_refuses_ambiguous_or_incomplete_declarations() -> None:
    families = list(cd.CODEC.families)
    same_shape = Family(Prefix.SCORTEN, Stray, (cd.ID, cd.QUESTION, cd.constant("z")))
    with pytest.raises(CallbackDataError, match="two families with 3 fields"):
        Codec([*families, same_shape])
    with pytest.raises(CallbackDataError, match="declared twice"):
        Codec([*families, cd.ANSWER])
    with pytest.raises(CallbackDataError, match=r"prefixes without a family: \['k'\]"):
        Codec([f for f in families if f is not cd.CLOCK_CONFIRM])
    with pytest.raises(CallbackDataError, match="2 attributes, 1 fields"):
        Family(Prefix.BACK, cd.Back, (cd.ID,))
