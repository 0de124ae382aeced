"""Fencing: the Bot API calls only the leader may make refuse to leave once this replica's lease
is no longer known to be live (issue 23). The sender and the morning board mark their calls
`leader_only`; the HTTP layer (bot/telegram/leadership.py `FencedRequest`) calls `check_lead`
immediately before a request leaves."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable
from typing import Any

from telegram.error import TelegramError

log = logging.getLogger("lysyme.leadership")

#: The name of the leader's lease (storage/leases.py), which also fences the sender's claims.
LEASE_NAME = "leader"


class LeaseLost(TelegramError):
    """A Bot API call only the leader may make, refused because this replica's lease is no
    longer known to be live (a TelegramError so that PTB passes it through unchanged)."""

    def __init__(self, method: str = "") -> None:
        super().__init__(f"not sent: this replica no longer holds a live leader lease {method}")


#: Set (to the lease's `live`) around the Bot API calls only a leader may make.
LEADER_ONLY: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "lysyme_leader_only", default=None
)


def check_lead(method: str = "") -> None:
    """Raise LeaseLost if the call in hand is leader-only and the lease is not live."""
    live = LEADER_ONLY.get()
    if live is not None and not live():
        log.warning("leader-only call %s refused: the lease is no longer live", method)
        raise LeaseLost(method)


@contextlib.contextmanager
def leader_only(live: Callable[[], bool] | None) -> Any:
    """Within: every Bot API call checks `live()` immediately before its HTTP request."""
    token = LEADER_ONLY.set(live)
    try:
        yield
    finally:
        LEADER_ONLY.reset(token)
