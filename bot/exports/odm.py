"""CDISC ODM 1.3.2: the screening log as one XML file, built with lxml.

- `Study` (OID `ST.LYSYME`): `GlobalVariables`, then one `MetaDataVersion` per protocol version
  that judged a screening (its OID the version: `LYSYME_1.0`), holding the study event, the
  forms (screening, eligibility, injection, severity, follow-up: `fields.FORMS`), one item group
  per form, the `ItemDef`s with their range checks, and the `CodeList`s (numeric codes, the
  same as REDCap's).
- `AdminData`: the users who appear in the trail (`USR.<Telegram id>`, `USR.system`) and one
  `Location` per site.
- `ClinicalData`, one per protocol version: one `SubjectData` per screening (`SubjectKey` the
  screening number, `SiteRef` its site).

`render_odm` writes a **Transactional** file (`FileType="Transactional"`): the history as data.
Each change of an item is its own `ItemData`, in the order it happened: `TransactionType`
"Insert" for its first value, "Update" for each later one, "Remove" when an answer stopped
applying; each with its `AuditRecord` (`UserRef`, `LocationRef`, `DateTimeStamp` in UTC,
`ReasonForChange` — "initial entry" for a first value, else the change's own reason — and
`SourceID`, the audit row's chain hash). A weight typed 70 then corrected to 71.5 is two
`ItemData`: 70 (Insert) and 71.5 (Update). The values come from the answers as given (never
overwritten) and from the audit trail; values derived by the bot (dose, classification,
SCORTEN score) change with the answer that changed them. An item-level `AuditRecord` tied to
an audit row has `ID="AR.<audit row id>"`; the other rows of the patients' trail (status,
outcome, navigation…) follow in `AuditRecords`. The audit rows about no patient (users,
backups, exports) are not in the file, so the `AR` numbers have gaps: the file's opening
comment says how to re-check the chain (`lysyme-bot verify-audit`, and the head it was read at).

`render_odm_snapshot` (`--format odm-snapshot`) writes the current values only
(`FileType="Snapshot"`), each `ItemData` with the `AuditRecord` of its latest change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from lxml import etree

from bot.exports.fields import (
    FOLLOW_UP_PREFIX,
    FORMS,
    SCORTEN_PREFIX,
    Field,
    ScreeningRecord,
    catalogue,
    record,
)
from bot.texts import t
from conversations import versions
from conversations.protocol import BY_ID
from conversations.replay import TrailRow

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STUDY_OID = "ST.LYSYME"
EVENT_OID = "SE.SCREENING"
#: Audit actions that move through the questions without changing a value.
NAVIGATION = frozenset({"back", "change", "resume", "screening_opened"})


class TrailRowLike(TrailRow, Protocol):
    """An audit row as the ODM export reads it: what replay reads, and who, when, why."""

    @property
    def id(self) -> int: ...
    @property
    def at(self) -> dt.datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def old_value(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def hash(self) -> str: ...


def _e(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{NS}}}{tag}", attributes)


def _translated(parent: etree._Element, tag: str, text: str, lang: str) -> None:
    holder = _e(parent, tag)
    translated = _e(holder, "TranslatedText")
    translated.set(XML_LANG, lang)
    translated.text = text


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _oid(prefix: str, name: str) -> str:
    return f"{prefix}.{name.upper()}"


def _items(field: Field) -> list[tuple[str, Field, str | None]]:
    """(item OID, field, checkbox choice code or None): a checkbox gives one item per option."""
    if field.kind == "checkbox":
        return [(_oid("IT", f"{field.name}.{c.value}"), field, c.code) for c in field.choices]
    return [(_oid("IT", field.name), field, None)]


def _data_type(field: Field) -> str:
    if field.kind in ("yesno", "radio", "checkbox"):
        return "integer"
    return {"date_ymd": "date", "datetime_ymd": "datetime", "integer": "integer",
            "number": "float"}.get(field.validation, "text")  # fmt: skip


def _metadata(study: etree._Element, version: versions.ProtocolVersion, fields: Sequence[Field],
              lang: str) -> None:  # fmt: skip
    mdv = _e(study, "MetaDataVersion", OID=version.oid, Name=version.name,
             Description=f"{version.name}, effective {version.effective.isoformat()}")  # fmt: skip
    protocol = _e(mdv, "Protocol")
    _e(protocol, "StudyEventRef", StudyEventOID=EVENT_OID, OrderNumber="1", Mandatory="Yes")
    event = _e(mdv, "StudyEventDef", OID=EVENT_OID, Name="Screening", Repeating="No",
               Type="Scheduled")  # fmt: skip
    for order, form in enumerate(FORMS, start=1):
        _e(event, "FormRef", FormOID=_oid("F", form), OrderNumber=str(order),
           Mandatory="Yes" if form == "screening" else "No")  # fmt: skip
    for form in FORMS:
        form_def = _e(mdv, "FormDef", OID=_oid("F", form), Name=_form_name(lang, form),
                      Repeating="No")  # fmt: skip
        _e(form_def, "ItemGroupRef", ItemGroupOID=_oid("IG", form), Mandatory="Yes")
    for form in FORMS:
        group = _e(mdv, "ItemGroupDef", OID=_oid("IG", form), Name=_form_name(lang, form),
                   Repeating="No")  # fmt: skip
        order = 0
        for field in (f for f in fields if f.form == form):
            for item_oid, _, _ in _items(field):
                order += 1
                _e(group, "ItemRef", ItemOID=item_oid, OrderNumber=str(order), Mandatory="No")
    yes_no = "CL.YESNO"
    for field in fields:
        for item_oid, _, code in _items(field):
            name = field.name if code is None else f"{field.name}___{code}"
            item = _e(mdv, "ItemDef", OID=item_oid, Name=name, DataType=_data_type(field))
            _translated(item, "Description", f"LYSYME id: {field.source}", lang)
            label = field.label
            if code is not None:
                label += " — " + next(c.label for c in field.choices if c.code == code)
            _translated(item, "Question", label, lang)
            for comparator, bound in (("GE", field.minimum), ("LE", field.maximum)):
                if bound:
                    check = _e(item, "RangeCheck", Comparator=comparator, SoftHard="Hard")
                    _e(check, "CheckValue").text = bound
            if field.kind == "radio":
                _e(item, "CodeListRef", CodeListOID=_oid("CL", field.name))
            elif field.kind in ("yesno", "checkbox"):
                _e(item, "CodeListRef", CodeListOID=yes_no)
    codes = _e(mdv, "CodeList", OID=yes_no, Name="yes / no", DataType="integer")
    for value, key in (("1", "c.yes"), ("0", "c.no")):
        _translated(_e(codes, "CodeListItem", CodedValue=value), "Decode", t(lang, key), lang)
    for field in fields:
        if field.kind != "radio":
            continue
        codes = _e(mdv, "CodeList", OID=_oid("CL", field.name), Name=field.name,
                   DataType="integer")  # fmt: skip
        for choice in field.choices:
            item = _e(codes, "CodeListItem", CodedValue=choice.code)
            _translated(item, "Decode", choice.label, lang)


def _form_name(lang: str, form: str) -> str:
    key = f"rc.form.{form}"
    text = t(lang, key)
    return form if text == key else text


def _value(field: Field, value: object, code: str | None, zone: ZoneInfo) -> str | None:
    """The ODM text of a value (ISO 8601 dates and date-times with their offset, dot
    decimals, numeric codes); None when unknown."""
    if code is not None:
        chosen = value if isinstance(value, set) else set()
        option = next(c for c in field.choices if c.code == code)
        return "1" if option.value in chosen else "0"
    if value is None:
        return None
    if field.kind == "yesno":
        return "1" if value else "0"
    if field.kind == "radio":
        try:
            return field.code_of(str(value))
        except KeyError:
            return None
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return " ".join(str(value).split())


def _user_oid(actor: str) -> str:
    return f"USR.{actor}"


def _audit_record(parent: etree._Element, row: TrailRowLike, site: str,
                  record_id: str | None = None) -> None:  # fmt: skip
    audit = _e(parent, "AuditRecord", **({"ID": record_id} if record_id else {}))
    _e(audit, "UserRef", UserOID=_user_oid(row.actor))
    _e(audit, "LocationRef", LocationOID=_oid("LOC", site))
    _e(audit, "DateTimeStamp").text = _utc(row.at)
    reason = row.reason or row.action
    change = f"{row.action}: {row.field or '—'} {row.old_value or '∅'} → {row.new_value or '∅'}"
    _e(audit, "ReasonForChange").text = reason if record_id is None else f"{change} ({reason})"
    _e(audit, "SourceID").text = row.hash


def _latest_changes(trail: Sequence[TrailRowLike]) -> dict[tuple[str, str], TrailRowLike]:
    """(screening, item source) → the latest audit row that changed it."""
    latest: dict[tuple[str, str], TrailRowLike] = {}
    for row in trail:
        if row.field is None or row.action in NAVIGATION:
            continue
        latest[(row.screening, row.field)] = row
        if row.field == "outcome":  # the criteria lists change with the outcome
            latest[(row.screening, "failed")] = row
            latest[(row.screening, "pending")] = row
    return latest


class HistoryRowLike(Protocol):
    """One answer row as given (storage.queries.HistoryRow)."""

    @property
    def number(self) -> str: ...
    @property
    def question_id(self) -> str: ...
    @property
    def value(self) -> str | None: ...
    @property
    def answered_by(self) -> int: ...
    @property
    def answered_at(self) -> dt.datetime: ...
    @property
    def source(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


class HeadLike(Protocol):
    """The audit trail's head when the log was read (storage.anchor.Head)."""

    @property
    def audit_rows(self) -> int: ...
    @property
    def audit_head(self) -> str: ...


INITIAL_ENTRY = "initial entry"
#: Items whose values come from the answers (and what the bot derives from them alone).
_FROM_VALUES_PREFIXES = (SCORTEN_PREFIX, FOLLOW_UP_PREFIX)
_FROM_VALUES = frozenset({"classification", "scorten_score", "scorten_partial",
                          "scorten_mortality_pct"})  # fmt: skip


def _from_values(field: Field) -> bool:
    return (
        field.source in BY_ID
        or field.source.startswith(_FROM_VALUES_PREFIXES)
        or field.source in _FROM_VALUES
    )


def _document(
    screenings: Sequence[ScreeningRecord],
    trail: Sequence[TrailRowLike],
    lang: str,
    now: dt.datetime,
    file_type: str,
    more_actors: frozenset[str] = frozenset(),
) -> tuple[etree._Element, list[ScreeningRecord], dict[str, versions.ProtocolVersion],
           list[TrailRowLike], list[Field]]:  # fmt: skip
    """The root, the study's metadata and the admin data, shared by both file types."""
    fields = catalogue(lang)
    ordered = sorted(screenings, key=lambda s: (s.site, s.sequence))
    used = sorted({s.protocol_version for s in ordered} or {versions.current().name})
    known = {name: _version(name) for name in used}
    stamp = now.astimezone(dt.UTC)
    root = etree.Element(
        f"{{{NS}}}ODM",
        nsmap={None: NS},
        FileType=file_type,
        FileOID=f"LYSYME.{stamp.strftime('%Y%m%dT%H%M%SZ')}",
        CreationDateTime=_utc(stamp),
        ODMVersion="1.3.2",
        Originator="lysyme-bot",
        SourceSystem="lysyme-bot",
    )
    study = _e(root, "Study", OID=STUDY_OID)
    glob = _e(study, "GlobalVariables")
    _e(glob, "StudyName").text = "LYSYME"
    _e(glob, "StudyDescription").text = (
        "Mesenchymal Stromal Cells Treatment in Lyell Syndrome: a pilot phase 1-2 open trial "
        "(NCT04711200) — screening log"
    )
    _e(glob, "ProtocolName").text = "NCT04711200"
    for version in known.values():
        _metadata(study, version, fields, lang)

    admin = _e(root, "AdminData", StudyOID=STUDY_OID)
    numbers = {s.number for s in ordered}
    own_trail = [row for row in trail if row.screening in numbers]
    actors = sorted({row.actor for row in own_trail} | {str(s.clinician_id) for s in ordered}
                    | {str(s.injected_by) for s in ordered if s.injected_by is not None}
                    | {"system"} | more_actors)  # fmt: skip
    for actor in actors:
        user = _e(admin, "User", OID=_user_oid(actor))
        _e(user, "LoginName").text = actor
    sites = sorted({s.site for s in ordered})
    for site in sites:
        location = _e(admin, "Location", OID=_oid("LOC", site), Name=site, LocationType="Site")
        for version in known.values():
            _e(location, "MetaDataVersionRef", StudyOID=STUDY_OID,
               MetaDataVersionOID=version.oid, EffectiveDate=version.effective.isoformat())  # fmt: skip
    return root, ordered, known, own_trail, fields


def _chain_note(head: HeadLike | None) -> str:
    """How to re-check the trail from the file (an XML comment at the top)."""
    at = (f" The trail was read at audit row {head.audit_rows}, chain head {head.audit_head}."
          if head is not None else "")  # fmt: skip
    return (
        " AuditRecord IDs are the audit table's row ids (AR.<id>); each SourceID is that row's "
        "SHA-256 chain hash. Audit rows about no patient (users, backups, exports) are not in "
        "this file, so the numbers have gaps: re-check the whole chain with `lysyme-bot "
        f"verify-audit` on the database or its backup.{at} "
    ).replace("--", "-")


def render_odm_snapshot(
    screenings: Sequence[ScreeningRecord],
    values: Mapping[int, Mapping[str, str]],
    trail: Sequence[TrailRowLike],
    zone: ZoneInfo,
    lang: str,
    now: dt.datetime,
    head: HeadLike | None = None,
) -> bytes:
    """The current values (`FileType="Snapshot"`), each with the AuditRecord of its latest
    change; the patients' whole trail in `AuditRecords`."""
    root, ordered, known, own_trail, fields = _document(screenings, trail, lang, now,
                                                        "Snapshot")  # fmt: skip
    root.addprevious(etree.Comment(_chain_note(head)))
    latest = _latest_changes(own_trail)
    site_of = {s.number: s.site for s in ordered}
    for name, version in known.items():
        clinical = _e(root, "ClinicalData", StudyOID=STUDY_OID, MetaDataVersionOID=version.oid)
        mine = [s for s in ordered if s.protocol_version == name]
        for s in mine:
            typed = record(s, values.get(s.id, {}))
            subject = _e(clinical, "SubjectData", SubjectKey=s.number)
            _e(subject, "SiteRef", LocationOID=_oid("LOC", s.site))
            event = _e(subject, "StudyEventData", StudyEventOID=EVENT_OID)
            for form in FORMS:
                group: etree._Element | None = None
                for field in (f for f in fields if f.form == form):
                    for item_oid, _, code in _items(field):
                        text = _value(field, typed.get(field.source), code, zone)
                        if text is None:
                            continue
                        if group is None:
                            form_data = _e(event, "FormData", FormOID=_oid("F", form))
                            group = _e(form_data, "ItemGroupData", ItemGroupOID=_oid("IG", form))
                        item = _e(group, "ItemData", ItemOID=item_oid, Value=text)
                        change = latest.get((s.number, field.source))
                        if change is not None:
                            _audit_record(item, change, s.site)
        trail_of_version = [row for row in own_trail
                            if row.screening in {s.number for s in mine}]  # fmt: skip
        if trail_of_version:
            records = _e(clinical, "AuditRecords")
            for row in trail_of_version:
                _audit_record(records, row, site_of[row.screening], f"AR.{row.id}")
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8",
                          pretty_print=True)  # fmt: skip


@dataclass(frozen=True)
class _Change:
    """One transaction on one item: its value (None: removed) and its audit facts."""

    at: dt.datetime
    actor: str
    reason: str | None
    row: TrailRowLike | None  # the audit row it is tied to, when there is one


def _typed_of(field: Field, text: str | None) -> object:
    """A value as the trail wrote it (status, outcome, an instant), typed as `record` does."""
    if text is None:
        return None
    if field.validation == "datetime_ymd":
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if field.validation == "integer":
        try:
            return int(text)
        except ValueError:
            return None
    return text


def _answer_rows(
    history: Sequence[HistoryRowLike], trail: Sequence[TrailRowLike]
) -> list[tuple[HistoryRowLike, TrailRowLike | None]]:
    """Each answer row with the audit row written with it (same patient, item and instant)."""
    free: dict[tuple[str, str, dt.datetime], list[TrailRowLike]] = {}
    for row in trail:
        if row.field is not None and row.action not in NAVIGATION:
            free.setdefault((row.screening, row.field, row.at), []).append(row)
    paired: list[tuple[HistoryRowLike, TrailRowLike | None]] = []
    for answer in history:
        candidates = free.get((answer.number, answer.question_id, answer.answered_at), [])
        # The row that wrote this very value (two answers of one item may share an instant).
        match = next((row for row in candidates if row.new_value == answer.value), None)
        if match is not None:
            candidates.remove(match)
        paired.append((answer, match))
    return paired


def render_odm(
    screenings: Sequence[ScreeningRecord],
    values: Mapping[int, Mapping[str, str]],
    trail: Sequence[TrailRowLike],
    zone: ZoneInfo,
    lang: str,
    now: dt.datetime,
    history: Sequence[HistoryRowLike] = (),
    head: HeadLike | None = None,
) -> bytes:
    """The ODM 1.3.2 Transactional document (UTF-8 XML): every value each item took, in order.
    `values`: screening id → its current answers; `history`: every answer row as given."""
    numbers = {s.number for s in screenings}
    answerers = frozenset(str(a.answered_by) for a in history if a.number in numbers)
    root, ordered, known, own_trail, fields = _document(screenings, trail, lang, now,
                                                        "Transactional", answerers)  # fmt: skip
    root.addprevious(etree.Comment(_chain_note(head)))
    site_of = {s.number: s.site for s in ordered}
    paired = _answer_rows(history, own_trail)
    used_rows: set[int] = set()
    for name, version in known.items():
        clinical = _e(root, "ClinicalData", StudyOID=STUDY_OID, MetaDataVersionOID=version.oid)
        mine = [s for s in ordered if s.protocol_version == name]
        for s in mine:
            answers = [(a, r) for a, r in paired if a.number == s.number]
            trail_of = [row for row in own_trail if row.screening == s.number]
            changes = _transactions(s, values.get(s.id, {}), answers, trail_of, fields, zone)
            if not changes:
                continue
            subject = _e(clinical, "SubjectData", SubjectKey=s.number, TransactionType="Upsert")
            _e(subject, "SiteRef", LocationOID=_oid("LOC", s.site))
            event = _e(subject, "StudyEventData", StudyEventOID=EVENT_OID,
                       TransactionType="Upsert")  # fmt: skip
            for form in FORMS:
                own = [c for c in changes if c[0].form == form]
                if not own:
                    continue
                form_data = _e(event, "FormData", FormOID=_oid("F", form), TransactionType="Upsert")
                group = _e(form_data, "ItemGroupData", ItemGroupOID=_oid("IG", form),
                           TransactionType="Upsert")  # fmt: skip
                for _field, item_oid, kind, text, change in own:
                    attributes = {"ItemOID": item_oid, "TransactionType": kind}
                    if text is not None:
                        attributes["Value"] = text
                    item = _e(group, "ItemData", **attributes)
                    record_id = None
                    if change.row is not None and change.row.id not in used_rows:
                        record_id = f"AR.{change.row.id}"
                        used_rows.add(change.row.id)
                    _item_audit(item, change, s.site, record_id, first=kind == "Insert")
        rest = [row for row in own_trail if row.id not in used_rows
                and row.screening in {s.number for s in mine}]  # fmt: skip
        if rest:
            records = _e(clinical, "AuditRecords")
            for row in rest:
                _audit_record(records, row, site_of[row.screening], f"AR.{row.id}")
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8",
                          pretty_print=True)  # fmt: skip


def _item_audit(item: etree._Element, change: _Change, site: str, record_id: str | None,
                *, first: bool) -> None:  # fmt: skip
    audit = _e(item, "AuditRecord", **({"ID": record_id} if record_id else {}))
    _e(audit, "UserRef", UserOID=_user_oid(change.actor))
    _e(audit, "LocationRef", LocationOID=_oid("LOC", site))
    _e(audit, "DateTimeStamp").text = _utc(change.at)
    _e(audit, "ReasonForChange").text = INITIAL_ENTRY if first else (change.reason or "update")
    if change.row is not None:
        _e(audit, "SourceID").text = change.row.hash


Transaction = tuple[Field, str, str, str | None, _Change]  # field, item OID, type, value, change


def _transactions(
    s: ScreeningRecord,
    current: Mapping[str, str],
    answers: Sequence[tuple[HistoryRowLike, TrailRowLike | None]],
    trail: Sequence[TrailRowLike],
    fields: Sequence[Field],
    zone: ZoneInfo,
) -> list[Transaction]:
    """Every change of every item of one screening, in the order it happened (each item's
    first value an Insert, the later ones Updates, a value gone a Remove)."""
    timeline: list[tuple[dt.datetime, int, list[tuple[Field, object, _Change]]]] = []
    # 1. Answers as given, replayed: each row changes its item and what the bot derives
    #    from the answers alone (classification, SCORTEN score…).
    replayed: dict[str, str] = {}
    shown: dict[str, object] = {}
    value_fields = [f for f in fields if _from_values(f)]
    for order, (answer, row) in enumerate(answers):
        if answer.value is None:
            replayed.pop(answer.question_id, None)
        else:
            replayed[answer.question_id] = answer.value
        typed = record(s, replayed)
        change = _Change(answer.answered_at, str(answer.answered_by),
                         answer.reason or answer.source, row)  # fmt: skip
        step = []
        for field in value_fields:
            value = typed.get(field.source)
            if field.source not in shown or value != shown[field.source]:
                step.append((field, value, change))
                shown[field.source] = value
        timeline.append((answer.answered_at, order, step))
    if not answers and current:  # answers written without their rows: their current values
        typed = record(s, current)
        at = s.closed_at or s.created_at
        change = _Change(at, str(s.clinician_id), None, None)
        timeline.append((at, 0, [(f, typed.get(f.source), change) for f in value_fields]))
    # 2. The screening's own items: the trail's changes of them, else their current value.
    typed_now = record(s, current)
    base = len(answers) + 1
    for field in (f for f in fields if not _from_values(f)):
        rows = [r for r in trail if r.field == field.source and r.action not in NAVIGATION]
        if field.source in ("failed", "pending"):  # the criteria lists change with the outcome
            rows = [r for r in trail if r.field == "outcome" and r.action not in NAVIGATION]
        steps: list[tuple[dt.datetime, int, list[tuple[Field, object, _Change]]]] = []
        if rows and field.source not in ("failed", "pending"):
            first = rows[0]
            if first.old_value is not None:
                prior = _Change(s.created_at, str(s.clinician_id), None, None)
                steps.append((s.created_at, base, [(field, _typed_of(field, first.old_value),
                                                    prior)]))  # fmt: skip
            for row in rows:
                change = _Change(row.at, row.actor, row.reason or row.action, row)
                steps.append((row.at, base + row.id, [(field, _typed_of(field, row.new_value),
                                                       change)]))  # fmt: skip
        final = typed_now.get(field.source)
        last_value = steps[-1][2][0][1] if steps else None
        if not steps or _value(field, last_value, None, zone) != _value(field, final, None, zone):
            moment = _moment_of(s, field.source)
            tied = rows[-1] if rows else None
            actor = (tied.actor if tied is not None else
                     str(s.injected_by if field.source.startswith("injected") and s.injected_by
                         is not None else s.clinician_id))  # fmt: skip
            change = _Change(moment if tied is None else tied.at, actor,
                             None if tied is None else tied.reason or tied.action, tied)  # fmt: skip
            steps.append((change.at, base + (tied.id if tied else 0) + 1, [(field, final, change)]))
        timeline += steps
    timeline.sort(key=lambda step: (step[0], step[1]))
    out: list[Transaction] = []
    seen: dict[str, str | None] = {}
    for _, _, step in timeline:
        for field, value, change in step:
            for item_oid, _, code in _items(field):
                text = _value(field, value, code, zone)
                before = seen.get(item_oid)
                if item_oid not in seen:
                    if text is None:
                        continue
                    kind = "Insert"
                elif text == before:
                    continue
                else:
                    kind = "Remove" if text is None else "Update"
                seen[item_oid] = text
                out.append((field, item_oid, kind, text, change))
    return out


def _moment_of(s: ScreeningRecord, source: str) -> dt.datetime:
    """When a screening-level value came to be, for an item with no audit row of its own."""
    if source.startswith("injected") and s.injected_at is not None:
        return s.injected_at
    if source in ("protocol_version", "rescreen_of", "clinician_id", "created_at"):
        return s.created_at
    return s.closed_at or s.created_at


def _version(name: str) -> versions.ProtocolVersion:
    try:
        return versions.get(name)
    except versions.UnknownVersion:
        # A version this program does not know (a newer program wrote it): still exported.
        return versions.ProtocolVersion(name, versions.current().effective, versions.Rules())
