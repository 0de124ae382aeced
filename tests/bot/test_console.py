"""The console demo: buttons are chosen with `/1`, `/2`…, so a plain number typed at a
typed-answer question is the answer (a BSA of 1), never a button (issue 13)."""

from __future__ import annotations

import io
from pathlib import Path

from bot.cli.console import console
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


async def test_export_and_stats_write_their_files_into_the_working_folder(
    database_target: Path | str, tmp_path: Path
) -> None:
    """Issue 25: /export (typed formats or a button) and /stats write real files and print
    their paths, in the user's language; nothing is only a caption."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, LYSYME_DATABASE=str(database_target), LYSYME_LANGUAGE="fr"
    )
    folder = tmp_path / "work"
    folder.mkdir()
    typed = "/screen\nyesterday\n/1\n/1\n54\n/cancel\n/export csv,xlsx\n/export\n/4\n/stats\n"
    out = io.StringIO()
    assert await console(settings, io.StringIO(typed), out, folder=folder) == 0
    text = out.getvalue()
    written = sorted(p.name for p in folder.iterdir())
    suffixes = sorted(Path(name).suffix for name in written)
    assert suffixes == [".csv", ".png", ".png", ".xlsx", ".xml"], written
    assert any(name.startswith("lysyme-consort-") for name in written)
    assert any(name.startswith("lysyme-recruitment-") for name in written)
    for name in written:
        path = folder / name
        assert f"Fichier écrit : {path.resolve()}" in text
        assert path.stat().st_size > 0 and path.stat().st_mode & 0o077 == 0
    assert "use /export in Telegram" not in text and "File written" not in text
    assert text.startswith("Console LYSYME — /screen pour commencer")  # French, from the start
    xlsx = next(n for n in written if n.endswith(".xlsx"))
    assert (folder / xlsx).read_bytes()[:2] == b"PK"
