"""Shared pieces of the benchmarks: an in-process fake Bot API request layer (no sockets),
simulated clinicians that drive a full screening from the bot's own keyboards, and figures.

Run the benchmarks from the repository root: ``python benchmarks/dispatch.py [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import platform
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first, not the root
    sys.path.insert(0, str(ROOT))

from telegram.request import BaseRequest, RequestData  # noqa: E402

BOT_ID = 1000
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "LYSYME bench",
    "username": "lysyme_bench_bot",
}
FIRST_CLINICIAN = 500_000


class InstantRequest(BaseRequest):
    """Answers every Bot API call at once, in process, like Telegram would (minus the network).

    Keeps the last message with an inline keyboard per chat (what a clinician would tap) and
    the time of the latest call (`last_call_at`, `time.perf_counter()`), for latency.
    """

    def __init__(self) -> None:
        self._message_ids = itertools.count(1)
        self.calls = 0
        self.call_times: list[float] = []
        self.last_call_at = 0.0
        self.prompts: dict[int, dict[str, Any]] = {}
        self.last_text: dict[int, str] = {}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        result = self._answer(name, params)
        self.calls += 1
        self.last_call_at = time.perf_counter()
        self.call_times.append(self.last_call_at)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def calls_during(self, since: float) -> int:
        return sum(1 for at in self.call_times if at >= since)

    def _answer(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT_USER
        if name in ("sendMessage", "sendDocument", "sendPhoto"):
            chat_id = int(params["chat_id"])
            message = self._message(chat_id, next(self._message_ids), params)
            return message
        if name in ("editMessageText", "editMessageReplyMarkup"):
            chat_id = int(params["chat_id"])
            return self._message(chat_id, int(params["message_id"]), params)
        if name == "getUpdates":
            return []
        return True

    def _message(self, chat_id: int, message_id: int, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
            "text": str(params.get("text") or params.get("caption") or ""),
        }
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
            self.prompts[chat_id] = message
        elif self.prompts.get(chat_id, {}).get("message_id") == message_id:
            del self.prompts[chat_id]  # edited without a keyboard: no longer tappable
        self.last_text[chat_id] = message["text"]
        return message


# --- simulated clinicians -----------------------------------------------------------------


def screening_script(today: dt.date) -> list[tuple[str, str]]:
    """A full eligible screening, as the e2e tests answer it: (kind, value) with kind
    "cmd" (a command), "tap" (a button label), "type" (a typed answer), "data" (a button found
    by the start of its callback data)."""
    index = (today - dt.timedelta(days=2)).strftime("%d/%m/%Y")
    return [
        ("cmd", "/screen"),
        ("type", index),  # date of first symptoms
        ("tap", "Yesterday"),  # admission
        ("tap", "Yes"),  # confirmed diagnosis
        ("type", "54"),  # age
        ("tap", "Intensive care"),
        ("type", "35 %"),  # BSA
        ("tap", "Male"),
        *[("tap", "No")] * 12,  # malignancy … psychiatric care
        ("tap", "Yes"),  # social security
        ("tap", "Obtained"),
        ("tap", "The patient"),
        ("type", "68"),  # weight
        ("data", "s:"),  # summary: confirm (first s: button is Confirm)
        ("type", "88"),  # SCORTEN heart rate
        ("type", "6.5"),  # urea mmol/L
        ("type", "24"),  # bicarbonate
        ("tap", "Not available"),  # glucose
    ]


@dataclass
class SimClinician:
    user_id: int
    script: list[tuple[str, str]]
    step: int = 0
    message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_000))

    @property
    def done(self) -> bool:
        return self.step >= len(self.script)

    def next_update(self, update_id: int, prompts: dict[int, dict[str, Any]]) -> dict[str, Any]:
        kind, value = self.script[self.step]
        self.step += 1
        user = {"id": self.user_id, "is_bot": False, "first_name": "Doc", "language_code": "en"}
        chat = {"id": self.user_id, "type": "private", "first_name": "Doc"}
        if kind in ("cmd", "type"):
            message: dict[str, Any] = {
                "message_id": next(self.message_ids),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                "text": value,
            }
            if kind == "cmd":
                command = value.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            return {"update_id": update_id, "message": message}
        prompt = prompts.get(self.user_id)
        if prompt is None:
            raise AssertionError(f"clinician {self.user_id}: no keyboard to tap {value!r}")
        buttons = [b for row in prompt["reply_markup"]["inline_keyboard"] for b in row]
        if kind == "tap":
            found = [b for b in buttons if b["text"] == value] or [
                b for b in buttons if value in b["text"]
            ]
        else:
            found = [b for b in buttons if str(b.get("callback_data", "")).startswith(value)]
        if not found:
            labels = [b["text"] for b in buttons]
            raise AssertionError(f"clinician {self.user_id}: no button {value!r} in {labels}")
        return {
            "update_id": update_id,
            "callback_query": {
                "id": str(update_id),
                "from": user,
                "chat_instance": str(self.user_id),
                "message": prompt,
                "data": found[0]["callback_data"],
            },
        }


# --- figures ------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports kilobytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    import os

    load = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews the figures
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "loadavg": load,
    }


def emit(figures: dict[str, Any]) -> None:
    """The one JSON line of figures, last on stdout."""
    print(json.dumps(figures, ensure_ascii=False), flush=True)
