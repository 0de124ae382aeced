"""`lysyme-bot export` and `lysyme-bot stats`: the coordinators' files written into a folder, from
the database (the same renderers as /export and /stats in Telegram, bot/views/)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from bot.cli.command_line import no_database
from bot.settings import Settings
from bot.views.export import (
    DEFAULT_FORMATS,
    FORMATS,
    BadFormat,
    ExportFiles,
    export_audit,
    parse_formats,
    read_export,
    render_export,
    write_private,
)
from bot.views.stats import stats_charts
from storage.audit import append_audit


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot export DIR [--format xlsx,csv,redcap,odm,delegation]`: the files into DIR (CSV and
    XLSX by default); one line on stdout, or one on stderr and exit 2."""
    target = Path(args.dir)
    try:
        formats = parse_formats(args.format) if args.format is not None else DEFAULT_FORMATS
    except BadFormat as exc:
        print(f"export: unknown format {str(exc)!r} (formats: {','.join(FORMATS)})",
              file=sys.stderr)  # fmt: skip
        return 2
    if not target.is_dir():
        print(f"export: {target} is not a directory", file=sys.stderr)
        return 2
    if no_database("export", settings):
        return 2

    async def go() -> ExportFiles:
        from storage.open import open_database

        db = await open_database(settings.database)
        try:
            now = dt.datetime.now(dt.UTC)
            data = await db.read(read_export)
            files = await render_export(data, settings, settings.language or "fr", now, formats,
                                        redcap_dag=bool(getattr(args, "redcap_dag", False)))  # fmt: skip
            await db.write(append_audit, export_audit("system", now, files, "lysyme-bot export"))
            return files
        finally:
            await db.close()

    from storage.anchor import DatabaseRefused

    try:
        files = asyncio.run(go())
    except DatabaseRefused as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    try:
        for file in files.files:
            write_private(target / file.name, file.content)
    except OSError as exc:
        print(f"export: cannot write into {target}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    names = ", ".join(str(target / f.name) for f in files.files)
    print(f"export: {files.screenings} screenings written to {names}")
    return 0


def stats_command(args: argparse.Namespace, settings: Settings) -> int:
    """`lysyme-bot stats DIR`: the flow diagram and the recruitment curve as PNG and SVG."""
    target = Path(args.dir)
    if not target.is_dir():
        print(f"stats: {target} is not a directory", file=sys.stderr)
        return 2
    if no_database("stats", settings):
        return 2
    lang = settings.language or "fr"

    async def go() -> tuple[dt.datetime, tuple[bytes, bytes, bytes, bytes]]:
        from storage.open import open_database

        db = await open_database(settings.database)
        try:
            now = dt.datetime.now(dt.UTC)
            data = await db.read(read_export)
            return now, await asyncio.to_thread(stats_charts, lang, data, settings, now)
        finally:
            await db.close()

    from storage.anchor import DatabaseRefused

    try:
        now, (flow_png, flow_svg, curve_png, curve_svg) = asyncio.run(go())
    except DatabaseRefused as exc:
        print(f"stats: {exc}", file=sys.stderr)
        return 2
    stamp = now.astimezone(settings.zone).strftime("%Y%m%d-%H%M%z")
    written = []
    try:
        for name, content in ((f"lysyme-consort-{stamp}.png", flow_png),
                              (f"lysyme-consort-{stamp}.svg", flow_svg),
                              (f"lysyme-recruitment-{stamp}.png", curve_png),
                              (f"lysyme-recruitment-{stamp}.svg", curve_svg)):  # fmt: skip
            write_private(target / name, content)
            written.append(str(target / name))
    except OSError as exc:
        print(f"stats: cannot write into {target}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"stats: {', '.join(written)}")
    return 0
