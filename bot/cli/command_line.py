"""The `lysyme-bot` command line: run, console, check, verify-audit, backup, export, stats,
migrate, init.

Errors are one line on stderr and exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from bot.settings import Settings, SettingsError, load_settings
from conversations.answers import AnswerError
from conversations.check import run_check


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def fail(message: str, code: int = 2) -> NoReturn:
    print(message.replace("\n", " "), file=sys.stderr)
    raise SystemExit(code)


def no_database(command: str, settings: Settings) -> bool:
    """A command that reads an existing database: True (and one line on stderr) when the
    SQLite file is not there, or is no LYSYME database (not SQLite, no tables). A PostgreSQL
    URL is checked by connecting to it."""
    if settings.on_postgres:
        return False
    path = Path(settings.database)
    if not path.exists():
        print(f"{command}: no database at {settings.database}", file=sys.stderr)
        return True
    from storage.anchor import not_lysyme

    problem = not_lysyme(path)
    if problem is None and path.stat().st_size == 0:
        problem = f"{path} is not a LYSYME database: it is empty"
    if problem is not None:
        print(f"{command}: {problem}", file=sys.stderr)
        return True
    return False


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        text = sys.stdin.read() if args.file == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"check: cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}")
    try:
        document = json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        fail(f"input: malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
    except (RecursionError, ValueError) as exc:  # absurd nesting, 5,000-digit numbers
        fail(f"input: unreadable JSON ({type(exc).__name__})")
    try:
        result = run_check(document, dt.datetime.now(dt.UTC), settings.zone)
    except AnswerError as exc:
        fail(str(exc))
    print(json.dumps(result))
    return 0


def _bounded_int(digits: str) -> int | float:
    """A 5,000-digit number is out of range for every field, not unreadable JSON: keep it a
    number (infinite) so the field is named in the error."""
    return int(digits) if len(digits) <= 100 else float("inf") * (-1 if digits[0] == "-" else 1)


def build_parser() -> _Parser:
    parser = _Parser(prog="lysyme-bot", description="LYSYME trial screening bot.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help="evaluate a JSON file of answers (DESIGN.md)")
    check.add_argument("file", help="JSON file, or - for standard input")
    check.set_defaults(handler=cmd_check)
    for name, module_attr, helptext in _LAZY_COMMANDS:
        command = sub.add_parser(name, help=helptext)
        if (add_arguments := _ARGUMENTS.get(name)) is not None:
            add_arguments(command)
        command.set_defaults(handler=_lazy(module_attr))
    return parser


def _lazy(module_attr: str) -> Callable[[argparse.Namespace, Settings], int]:
    """Import the command's module only when it runs: `check` stays fast and light."""

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        module_name, _, attr = module_attr.partition(":")
        module = __import__(module_name, fromlist=[attr])
        result: int = getattr(module, attr)(args, settings)
        return result

    return handler


_LAZY_COMMANDS: list[tuple[str, str, str]] = [
    ("run", "bot.cli.commands:run", "run the bot (polling, or webhook when configured)"),
    ("console", "bot.cli.console:main", "the screening flow in this terminal, offline"),
    ("verify-audit", "bot.cli.commands:verify_audit", "check the audit trail's hash chain"),
    ("backup", "bot.cli.commands:backup", "online backup of the database to PATH"),
    ("migrate", "bot.cli.commands:migrate", "upgrade the database schema in place"),
    ("init", "bot.cli.commands:init", "create a new, empty database deliberately (README)"),
    (
        "stats",
        "bot.cli.reports:stats_command",
        "CONSORT flow diagram and recruitment curve (PNG + SVG) into DIR",
    ),
    (
        "export",
        "bot.cli.reports:export_command",
        "screening log into DIR (CSV + XLSX, or --format xlsx,csv,redcap,odm,delegation)",
    ),
]
# Each adds its command's arguments (what `add_argument` returns is not used).
_ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], object]] = {
    "backup": lambda p: p.add_argument("path", help="backup file or folder"),
    "stats": lambda p: p.add_argument("dir", help="existing folder to write the charts into"),
    "export": lambda p: (
        p.add_argument("dir", help="existing folder to write the files into"),
        p.add_argument(
            "--format",
            help="any of xlsx,csv,redcap,odm,odm-snapshot,delegation (default: csv,xlsx)",
        ),
        p.add_argument(
            "--redcap-dag",
            action="store_true",
            help="REDCap records with the redcap_data_access_group column (the site code): "
            "only for a project where that data access group already exists",
        ),
    ),
    "init": lambda p: (
        p.add_argument(
            "--force", action="store_true", help="set an existing database and anchor aside first"
        ),
        p.add_argument(
            "--adopt",
            action="store_true",
            help="accept an existing database that has no anchor file, as it is (audited)",
        ),
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        settings = load_settings()
        return int(args.handler(args, settings))
    except UsageError as exc:
        fail(str(exc))
    except SettingsError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        return 130
