"""CDISC ODM 1.3.2: the screening log as one XML file, built with lxml.

- `Study` (OID `ST.LYSYME`): `GlobalVariables`, then one `MetaDataVersion` per protocol version
  that judged a screening (its OID the version: `LYSYME_1.0`), holding the study event, the
  forms (screening, eligibility, injection, severity, follow-up: `fields.FORMS`), one item group
  per form, the `ItemDef`s with their range checks, and the `CodeList`s (numeric codes, the
  same as REDCap's).
- `AdminData`: the users who appear in the trail (`USR.<Telegram id>`, `USR.system`) and one
  `Location` per site.
- `ClinicalData`, one per protocol version: one `SubjectData` per screening (`SubjectKey` the
  screening number, `SiteRef` its site). Each `ItemData` carries the current value and, when the
  audit trail changed that item, an `AuditRecord` of the latest change (`UserRef`, `LocationRef`,
  `DateTimeStamp` in UTC, `ReasonForChange`, `SourceID` = the audit row's chain hash). The whole
  trail of every screening follows in `AuditRecords` (`ID` = `AR.<audit row id>`), so the file is
  tied, row by row, to what `lysyme-bot verify-audit` checks.

A file snapshot (`FileType="Snapshot"`): current values, not a transaction log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol
from zoneinfo import ZoneInfo

from lxml import etree

from bot.exports.fields import FORMS, Field, ScreeningRecord, catalogue, record
from bot.texts import t
from conversations import versions

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STUDY_OID = "ST.LYSYME"
EVENT_OID = "SE.SCREENING"
#: Audit actions that move through the questions without changing a value.
NAVIGATION = frozenset({"back", "change", "resume", "screening_opened"})


class TrailRowLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def at(self) -> dt.datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def screening(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def field(self) -> str | None: ...
    @property
    def old_value(self) -> str | None: ...
    @property
    def new_value(self) -> str | None: ...
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


def render_odm(
    screenings: Sequence[ScreeningRecord],
    values: Mapping[int, Mapping[str, str]],
    trail: Sequence[TrailRowLike],
    zone: ZoneInfo,
    lang: str,
    now: dt.datetime,
) -> bytes:
    """The ODM 1.3.2 document (UTF-8 XML). `values`: screening id → its current answers."""
    fields = catalogue(lang)
    ordered = sorted(screenings, key=lambda s: (s.site, s.sequence))
    used = sorted({s.protocol_version for s in ordered} or {versions.current().name})
    known = {name: _version(name) for name in used}
    stamp = now.astimezone(dt.UTC)
    root = etree.Element(
        f"{{{NS}}}ODM",
        nsmap={None: NS},
        FileType="Snapshot",
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
    actors = sorted({row.actor for row in own_trail} | {str(s.clinician_id) for s in ordered})
    for actor in actors:
        user = _e(admin, "User", OID=_user_oid(actor))
        _e(user, "LoginName").text = actor
    sites = sorted({s.site for s in ordered})
    for site in sites:
        location = _e(admin, "Location", OID=_oid("LOC", site), Name=site, LocationType="Site")
        for version in known.values():
            _e(location, "MetaDataVersionRef", StudyOID=STUDY_OID,
               MetaDataVersionOID=version.oid, EffectiveDate=version.effective.isoformat())  # fmt: skip

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
                form_data: etree._Element | None = None
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
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _version(name: str) -> versions.ProtocolVersion:
    try:
        return versions.get(name)
    except versions.UnknownVersion:
        # A version this program does not know (a newer program wrote it): still exported.
        return versions.ProtocolVersion(name, versions.current().effective, versions.Rules())
