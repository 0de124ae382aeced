"""The site's delegation log as a table (issue 24): one row per person and role held, from the
audit trail (conversations/delegation.py), in the reader's language — the CSV of
`export --format delegation` and a sheet of the XLSX."""

from __future__ import annotations

import datetime as dt

from bot.exports.spreadsheets import Table
from bot.texts import t
from conversations.delegation import DelegationLog, Period, TrailAct, derive

COLUMNS = (
    "person_id",
    "name",
    "role",
    "from",
    "until",
    "to",
    "granted_by",
    "removed_by",
    "invitation",
    "acts",
    "acts_by_kind",
)


def _who(lang: str, actor: str | None, names: dict[int, str]) -> str | None:
    if actor is None:
        return None
    if not (actor.isascii() and actor.isdigit()):
        return t(lang, "dl.settings")
    name = names.get(int(actor))
    return f"{name} ({actor})" if name else actor


def _kinds(lang: str, acts: dict[str, int]) -> str:
    def label(kind: str) -> str:
        # A kind with no words yet (a newer program's action) still reads as words.
        key = f"dl.act.{kind}"
        text = t(lang, key)
        return kind.replace("_", " ") if text == key else text

    return "; ".join(f"{label(k)}: {n}" for k, n in sorted(acts.items()))


def _row(lang: str, p: Period, names: dict[int, str], zone: dt.tzinfo) -> list[object]:
    removed = t(lang, "dl.lapsed") if p.lapsed else _who(lang, p.removed_by, names)
    return [
        p.person,
        names.get(p.person),
        t(lang, f"role.{p.role}"),
        p.start.astimezone(zone),
        p.until,
        p.end.astimezone(zone) if p.end is not None else None,
        _who(lang, p.granted_by, names),
        removed,
        p.invitation,
        sum(p.acts.values()),
        _kinds(lang, dict(p.acts)),
    ]


def _orphan_rows(lang: str, orphans: list[TrailAct], names: dict[int, str]) -> list[list[object]]:
    """Acts no access period covers, per actor (none in a sound trail): shown, never hidden."""
    by_actor: dict[str, dict[str, int]] = {}
    for act in orphans:
        kinds = by_actor.setdefault(act.actor, {})
        kinds[act.action] = kinds.get(act.action, 0) + 1
    return [
        [int(actor), names.get(int(actor)), t(lang, "dl.orphans"), None, None, None, None, None,
         None, sum(kinds.values()), _kinds(lang, kinds)]
        for actor, kinds in sorted(by_actor.items())
    ]  # fmt: skip


def delegation_table(
    lang: str,
    trail: list[TrailAct],
    names: dict[int, str],
    zone: dt.tzinfo,
    caption: str | None = None,
) -> Table:
    log: DelegationLog = derive(trail)
    rows = [_row(lang, p, names, zone) for p in sorted(log.periods, key=_order)]
    rows += _orphan_rows(lang, log.orphans, names)
    titles = [t(lang, f"dl.{c}") for c in COLUMNS]
    return Table(name=t(lang, "dl.sheet"), columns=titles, titles=titles, rows=rows,
                 caption=caption)  # fmt: skip


def _order(p: Period) -> tuple[int, dt.datetime, str]:
    return (p.person, p.start, p.role)
