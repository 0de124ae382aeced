"""The console demo: buttons are chosen with `/1`, `/2`…, so a plain number typed at a
typed-answer question is the answer (a BSA of 1), never a button (issue 13)."""

from __future__ import annotations

import io
from pathlib import Path

from bot.console import console
from bot.settings import Settings


async def test_a_plain_number_is_an_answer_and_slash_number_a_button(
    database_target: Path | str,
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, LYSYME_DATABASE=str(database_target), LYSYME_LANGUAGE="en"
    )
    typed = "/screen\nyesterday\n/1\n/1\n54\n/2\n1\n/9\n/cancel\n"
    out = io.StringIO()
    assert await console(settings, io.StringIO(typed), out) == 0
    text = out.getvalue()
    assert "/1, /2… taps a button" in text
    assert "[/1] Today" in text and "[/2] Yesterday" in text
    assert "✓ Age: 54 years" in text  # 54 typed: the age
    assert "✓ Ward: Intensive care" in text  # /2 tapped the second ward button
    assert "✓ Detached BSA: 1 %" in text  # "1" typed at the BSA question: 1 %, not button 1
    assert "Sex" in text
    assert "? /1 … /" in text  # /9: no such button, said so
