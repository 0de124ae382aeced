"""A request layer around python-telegram-bot's own (`BaseRequest`), for the bot's checks at the
HTTP seam: the fencing check before a leader-only call leaves (bot/telegram/leadership.py), the
heartbeat after a getUpdates round (bot/health.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from telegram.request import BaseRequest, RequestData

from bot import health


class WrappedRequest(BaseRequest):
    """Forwards everything to `inner`; a subclass acts around each call (`before`, `after`)."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    def before(self, endpoint: str) -> None:
        """Called as the request is about to leave (`endpoint`: the Bot API method); raising
        stops it. Nothing by default."""

    def after(self, endpoint: str, code: int) -> None:
        """Called with the HTTP status once the answer came back. Nothing by default."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        self.before(endpoint)
        code, payload = await self.inner.do_request(
            url, method, request_data, read_timeout=read_timeout, write_timeout=write_timeout,
            connect_timeout=connect_timeout, pool_timeout=pool_timeout,
        )  # fmt: skip
        self.after(endpoint, code)
        return code, payload


class BeatingRequest(WrappedRequest):
    """The getUpdates request layer, beating `poll` after every successful round."""

    def __init__(self, inner: BaseRequest, name: str = "poll") -> None:
        super().__init__(inner)
        self.name = name

    def after(self, endpoint: str, code: int) -> None:
        if code == 200:
            health.beat(self.name, dt.datetime.now(dt.UTC))
