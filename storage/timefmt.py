"""How instants are written in the database: UTC, ISO 8601, fixed width, so text order is time
order (the reminder sweep compares them as strings on an index)."""

from __future__ import annotations

import datetime as dt


def to_db(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime cannot be stored: instants are aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def maybe_from_db(text: str | None) -> dt.datetime | None:
    return None if text is None else from_db(text)
