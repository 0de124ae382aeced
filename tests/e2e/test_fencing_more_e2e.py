"""More faults on real processes (issue 23, point 5), after tests/e2e/test_fencing_e2e.py.

* **kill -9 of the postmaster** mid-batch, on a PostgreSQL cluster of the test's own (the
  shared server is never touched): two polling replicas, 150 reminders, an admin's /adduser
  commands one after another all along. The server is down for two leases, then started again
  on the same port. Nothing acknowledged is lost (every reminder reaches its chat, every user
  an answer said was added is in the database), at most the one message in flight is sent
  twice (docs/RELIABILITY.md: one per fault), every command whose write failed was told
  "nothing was saved" (and nothing of it is in the database), and the replicas lead and
  answer again once the server is back.
* **Two webhook replicas behind a round-robin load balancer** (tests/e2e/
  test_webhook_replicas_e2e.py) that, like any load balancer, tries the other replica when one
  does not answer in time:
  - the leader stopped (SIGSTOP) inside a write transaction for three leases, then continued:
    the standby takes the lead within 4/3 of the lease, the webhook updates sent during the
    stop are answered (once each: the stopped replica, continued, drops the updates the
    balancer gave up on it for), and no reminder is sent twice;
  - every PostgreSQL backend of both replicas terminated three times mid-batch: no reminder
    lost or doubled, every command answered truthfully.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ADMIN, THROWAWAY_POSTGRES
from tests.e2e.conftest import CLINICIAN, process_env, replica_role, run_process
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.test_fencing_e2e import (
    FIRST_CHAT,
    LEASE,
    ROWS,
    SCHEDULING_SLACK,
    _notices,
    _seed,
    _wait,
    roles_of,
    start_pair,
    stop_inside_write,
    stop_processes,
)
from tests.e2e.test_restart_e2e import say
from tests.e2e.test_webhook_e2e import wait_for_port
from tests.e2e.test_webhook_replicas_e2e import (
    NOT_FORWARDED,
    RoundRobin,
    _wait_for_roles,
    free_ports,
)

#: How long an answer to one admin command may take (a command sent while no replica leads
#: waits for the server to come back and a replica to take the lead).
ANSWER_TIMEOUT = 25.0
#: The words of every "your write failed" answer (bot/texts: error.temporary, error.generic,
#: db.paused).
NOTHING_SAVED = re.compile(r"nothing was saved|nothing saved", re.IGNORECASE)
FIRST_ADDED = 300000  # the users the admin's commands add: 300000, 300001, …


def _sent_figures(tg: FakeTelegram) -> tuple[list[int], list[int]]:
    """(the chats of the reminders sent, the chats sent more than once)."""
    sent = _notices(tg)
    return sent, sorted({chat for chat in sent if sent.count(chat) > 1})


def _no_traceback(processes: list[subprocess.Popen[bytes] | None]) -> list[str]:
    """Each stopped process's stderr, checked for a traceback."""
    stderrs = []
    for process in processes:
        stderr = process.stderr.read().decode() if process and process.stderr else ""
        assert "Traceback" not in stderr, stderr[-3000:]
        stderrs.append(stderr)
    return stderrs


def _added_in_database(url: str) -> set[int]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT telegram_id FROM users WHERE telegram_id >= %s AND active = 1",
            (FIRST_ADDED,),
        ).fetchall()
    return {int(row[0]) for row in rows}


def _told_added(tg: FakeTelegram) -> set[int]:
    """The users an answer to the admin said were added."""
    told = set()
    for message in tg.sent_messages(ADMIN):
        match = re.search(r"\bUser (\d+): ", message.get("text", ""))
        if match and int(match.group(1)) >= FIRST_ADDED:
            told.add(int(match.group(1)))
    return told


class Commands:
    """The admin's `/adduser N clinician` commands, N new each time, one after another in a
    thread of its own, each answer waited for (bounded by ANSWER_TIMEOUT): what each was
    told ("added", "nothing saved", or None: no answer)."""

    def __init__(self, tg: FakeTelegram, send: Callable[[str], None], pause: float) -> None:
        self.tg = tg
        self.send = send
        self.pause = pause
        self.answers: dict[int, str | None] = {}
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="admin-commands", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(ANSWER_TIMEOUT + 10)
        assert not self._thread.is_alive(), "the command thread did not end"

    def one(self, user: int) -> str | None:
        mark = self.tg.mark()
        started = time.monotonic()
        self.send(f"/adduser {user} clinician")
        pattern = re.compile(rf"\bUser {user}: |{NOTHING_SAVED.pattern}", re.IGNORECASE)
        try:
            call = self.tg.run_sync(self.tg.wait_for_message(
                ADMIN, contains=pattern, after_index=mark, timeout=ANSWER_TIMEOUT,
            ))  # fmt: skip
        except AssertionError:
            self.answers[user] = None
            return None
        self.slowest = max(self.slowest, time.monotonic() - started)
        said = "nothing saved" if NOTHING_SAVED.search(call.result["text"]) else "added"
        self.answers[user] = said
        return said

    def _run(self) -> None:
        user = FIRST_ADDED + len(self.answers)
        while not self._stop.is_set():
            self.one(user)
            user += 1
            self._stop.wait(self.pause)

    def check_truthful(self, url: str) -> None:
        """Every command was answered; who is in the database is exactly who the admin was
        told was added (a user told "nothing was saved" and never told "added" is absent)."""
        unanswered = sorted(u for u, said in self.answers.items() if said is None)
        assert unanswered == [], f"no answer to /adduser {unanswered}"
        told = _told_added(self.tg)
        in_database = _added_in_database(url)
        assert told == in_database, (
            f"told added but absent: {sorted(told - in_database)}; "
            f"saved but told nothing was saved: {sorted(in_database - told)}"
        )

    def figures(self) -> str:
        failed = sum(1 for said in self.answers.values() if said == "nothing saved")
        return (f"{len(self.answers)} commands, {failed} answered 'nothing was saved', "
                f"slowest answer {self.slowest:.1f} s")  # fmt: skip


# --- (a) kill -9 of the postmaster ----------------------------------------------------------


def _alive(pid: int) -> bool:
    """The process runs (a zombie, killed but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Cluster:
    """A PostgreSQL cluster of the test's own (scripts/throwaway-postgres): its postmaster is
    killed and the cluster started again, on the same port, by the test."""

    def __init__(self) -> None:
        # mkdtemp: as root the cluster belongs to the `postgres` user, who must enter the folder.
        self.folder = Path(tempfile.mkdtemp(prefix="lysyme-pg-kill-"))

    def start(self) -> str:
        done = subprocess.run(
            [str(THROWAWAY_POSTGRES), "start", str(self.folder)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def kill_postmaster(self) -> None:
        pid = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        # Its children (the backends, the WAL writer…) notice the postmaster's death and exit;
        # the restart needs them gone (they hold the shared memory).
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in [pid, *children]):
            assert time.monotonic() < deadline, "the killed postmaster's children still run"
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run([str(THROWAWAY_POSTGRES), "stop", str(self.folder)],
                       capture_output=True, timeout=120, check=False)  # fmt: skip


DOWN = 2 * LEASE  # seconds the server stays down


def test_the_postmaster_killed_mid_batch_then_started_again(
    server: FakeTelegram, tmp_path: Path
) -> None:
    import psycopg

    tg = server
    cluster = Cluster()
    leader: subprocess.Popen[bytes] | None = None
    standby: subprocess.Popen[bytes] | None = None
    commands = Commands(tg, lambda text: tg.send_text(ADMIN, text, language_code="en"), 0.3)
    try:
        url = cluster.start()
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as admin:
            # The throw-away cluster runs with synchronous_commit=off (a commit acknowledged
            # before its WAL is written: lost when the postmaster dies). A real server commits
            # synchronously; so does this database.
            admin.execute("ALTER DATABASE postgres SET synchronous_commit = on")
        _seed(url)
        replicas = start_pair(tg, tmp_path, url)
        leader, standby = replicas.values()
        leader_dir, leader, standby_dir, standby = roles_of(replicas)
        commands.start()

        _wait(lambda: len(_notices(tg)) >= ROWS // 4, 60, "a quarter sent")
        cluster.kill_postmaster()
        killed_at = time.monotonic()
        sent_at_kill = len(_notices(tg))
        # Without its database the leader stops leading within its lease (health: standby).
        _wait(lambda: replica_role(leader_dir) == "standby", LEASE + SCHEDULING_SLACK,
              "the leader without its database says standby")  # fmt: skip
        roles = (leader_dir, standby_dir)
        while time.monotonic() - killed_at < DOWN:  # no replica leads without its database
            assert "leader" not in {replica_role(w) for w in roles}
            time.sleep(0.05)
        sent_while_down = len(_notices(tg)) - sent_at_kill

        restarted_at = time.monotonic()
        assert cluster.start() == url  # the same port: the replicas reconnect to it
        _wait(lambda: {replica_role(w) for w in roles} == {"leader", "standby"},
              4 / 3 * LEASE + SCHEDULING_SLACK * 2, "a leader again")  # fmt: skip
        recovered = time.monotonic() - restarted_at
        _wait(lambda: len(set(_notices(tg))) == ROWS, 60, "every reminder sent")
        commands.stop()
        time.sleep(LEASE)  # anything sent twice would have gone out by now
        say(tg, ADMIN, f"/adduser {CLINICIAN} clinician", expect=str(CLINICIAN))
        commands.check_truthful(url)
        stop_processes([leader, standby])
    finally:
        stop_processes([leader, standby])
        cluster.stop()

    sent, doubled = _sent_figures(tg)
    print(f"\npostmaster killed after {sent_at_kill} sent; {sent_while_down} sent while down; "
          f"a leader {recovered:.2f} s after the restart began; doubled {len(doubled)}; "
          f"{commands.figures()}")  # fmt: skip
    assert set(sent) == set(range(FIRST_CHAT, FIRST_CHAT + ROWS))  # nothing lost
    # At most the one message in flight repeated (its "sent" could not reach the database).
    assert len(doubled) <= 1 and len(sent) - ROWS == len(doubled), doubled
    assert sent_while_down <= 1
    # First: a traceback, or the last lines, say why a replica exited non-zero.
    stderrs = _no_traceback([leader, standby])
    assert leader is not None and leader.returncode == 0, stderrs[0][-3000:]
    assert standby is not None and standby.returncode == 0, stderrs[1][-3000:]


# --- (b) two webhook replicas behind a load balancer, under faults ---------------------------

#: The load balancer gives a replica this long to answer, then tries the other one (nginx's
#: proxy_next_upstream on a timeout): a stopped replica's socket accepts, and never answers.
UPSTREAM_TIMEOUT = 2.0


@contextmanager
def failover_balancer() -> Iterator[tuple[str, RoundRobin, list[str]]]:
    """test_webhook_replicas_e2e's round robin, trying the next replica when one does not
    answer within UPSTREAM_TIMEOUT (recorded as 504). Its URL, its counts, its targets (to
    fill in)."""
    import http.server

    balancer = RoundRobin()
    targets: list[str] = []

    class Forward(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
            first = balancer.pick()
            order = [first] + [t for t in targets if t != first]
            for target in order:
                try:
                    answer = httpx.post(target + self.path, content=body, headers=headers,
                                        timeout=UPSTREAM_TIMEOUT)  # fmt: skip
                except httpx.HTTPError:
                    balancer.record(target, 504)
                    continue
                balancer.record(target, answer.status_code)
                self.send_response(answer.status_code)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)
                return
            self.send_error(502)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads `balancer.forwards`."""

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=proxy.serve_forever, name="load-balancer", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}", balancer, targets
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=5)


def _deliver(tg: FakeTelegram, text: str) -> None:
    """The admin's message, POSTed to the webhook (the load balancer) as Telegram does: again,
    the same update, while it is not accepted (Telegram retries a webhook that failed)."""
    update_id = tg.send_text(ADMIN, text, language_code="en")
    update = tg.update(update_id)
    for _ in range(5):
        status = tg.run_sync(tg.post_update_to_webhook(update_dict=update, timeout=10))
        if status == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"the webhook refused {text!r} five times ({status})")


@contextmanager
def webhook_replicas(
    tg: FakeTelegram, tmp_path: Path, url: str, stderrs: dict[Path, str]
) -> Iterator[tuple[dict[str, tuple[Path, subprocess.Popen[bytes]]], RoundRobin]]:
    """Two webhook replicas (3 s lease) behind the failover balancer, once one leads:
    role -> (its folder, its process); and the balancer. Stopped (SIGTERM) after: each one's
    stderr in `stderrs`, by folder."""
    workdirs = [tmp_path / "replica-a", tmp_path / "replica-b"]
    processes: list[subprocess.Popen[bytes] | None] = []
    with failover_balancer() as (public, balancer, targets):
        ports = free_ports(2)
        targets += [f"http://127.0.0.1:{p}" for p in ports]
        balancer.balance(list(targets))
        try:
            for workdir, port in zip(workdirs, ports, strict=True):
                workdir.mkdir()
                env = process_env(tg, workdir, LYSYME_DATABASE=url, LYSYME_DATABASE_POOL_SIZE="3",
                                  LYSYME_LEADER_LEASE_SECONDS=str(int(LEASE)),
                                  LYSYME_WEBHOOK_URL=f"{public}/hook",
                                  LYSYME_WEBHOOK_LISTEN="127.0.0.1",
                                  LYSYME_WEBHOOK_PORT=str(port))  # fmt: skip
                processes.append(run_process(env, workdir))
            for process, port in zip(processes, ports, strict=True):
                assert process is not None
                wait_for_port(port, process)
            roles = _wait_for_roles(workdirs, timeout=30)
            by_dir = dict(zip(workdirs, processes, strict=True))
            yield {r: (w, by_dir[w]) for r, w in roles.items()}, balancer  # type: ignore[misc]
            stop_processes(processes)
            for process in processes:
                assert process is not None and process.returncode == 0
            stderrs.update(zip(workdirs, _no_traceback(processes), strict=True))
        finally:
            stop_processes(processes)


def test_webhook_replicas_the_leader_stopped_for_3_leases(
    server: FakeTelegram, tmp_path: Path, postgres_target: str
) -> None:
    """Webhook replicas, the leader stopped inside a write transaction for three leases: the
    standby leads within 4/3 of the lease, the admin's updates are answered during the stop
    (the balancer skips the stopped replica), each once; no reminder twice, none lost."""
    tg = server
    url = postgres_target
    ids = _seed(url)
    commands = Commands(tg, lambda text: _deliver(tg, text), 0.0)
    stderrs: dict[Path, str] = {}
    with webhook_replicas(tg, tmp_path, url, stderrs) as (replicas, balancer):
        (leader_dir, leader), (standby_dir, _) = replicas["leader"], replicas["standby"]
        stopped_at = stop_inside_write(tg, leader, url, ids[130])  # in the second claim
        sent_at_stop = len(_notices(tg))
        assert 0 < sent_at_stop < ROWS

        _wait(lambda: replica_role(standby_dir) == "leader", 4 / 3 * LEASE + SCHEDULING_SLACK * 2,
              "takeover")  # fmt: skip
        took = time.monotonic() - stopped_at
        # The updates of the stop, half of them first sent to the stopped replica, answered.
        user = FIRST_ADDED
        while time.monotonic() - stopped_at < 3 * LEASE - UPSTREAM_TIMEOUT:
            assert commands.one(user) == "added"
            user += 1
        time.sleep(max(0.0, 3 * LEASE - (time.monotonic() - stopped_at)))
        leader.send_signal(signal.SIGCONT)

        _wait(lambda: len(set(_notices(tg))) == ROWS, 60, "every reminder sent")
        _wait(lambda: replica_role(leader_dir) == "standby", 10, "the old leader steps down")
        # The continued replica has had time to (wrongly) send its batch (refused from the
        # moment it says standby), and to handle the updates the balancer gave up on it for
        # (they were in its socket: handled at once once continued).
        time.sleep(LEASE)
        assert commands.one(user) == "added"  # both replicas answer again
        assert commands.one(user + 1) == "added"
        failed_over = sum(n for (_, status), n in balancer.forwards.items() if status == 504)

    sent, doubled = _sent_figures(tg)
    print(
        f"\ntakeover {took:.2f} s after the stop; {sent_at_stop} sent before it; "
        f"{failed_over} webhook POSTs failed over; doubled {len(doubled)}; {commands.figures()}"
    )
    assert took <= 4 / 3 * LEASE + SCHEDULING_SLACK, took
    assert failed_over > 0  # the stopped replica was given updates, and skipped
    assert doubled == [] and sorted(sent) == list(range(FIRST_CHAT, FIRST_CHAT + ROWS))
    # Each command answered once: the continued replica dropped the updates the balancer had
    # given up on it for (the other replica had handled them).
    answers = [
        m["text"] for m in tg.sent_messages(ADMIN) if re.search(r"\bUser 3\d{5}: ", m["text"])
    ]
    assert len(answers) == len(commands.answers), answers
    assert "already handled" in stderrs[leader_dir]
    commands.check_truthful(url)


def test_webhook_replicas_their_postgresql_backends_terminated_mid_batch(
    server: FakeTelegram, tmp_path: Path, postgres_target: str
) -> None:
    """`pg_terminate_backend` of every connection of both webhook replicas, three times while
    the leader sends 150 reminders, an admin's update right after each: every reminder
    reaches its chat once, every update is answered truthfully, and the replicas go on."""
    import psycopg

    tg = server
    name = f"lysyme-e2e-{secrets.token_hex(4)}"  # only this test's replicas are terminated
    parts = urllib.parse.urlsplit(postgres_target)
    query = [*urllib.parse.parse_qsl(parts.query), ("application_name", name)]
    url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    _seed(url)
    commands = Commands(tg, lambda text: _deliver(tg, text), 0.0)
    terminate = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s"
    )
    with psycopg.connect(postgres_target, autocommit=True) as admin, \
            webhook_replicas(tg, tmp_path, url, {}):  # fmt: skip
        terminated = 0
        user = FIRST_ADDED
        for share in (0.2, 0.4, 0.6):
            _wait(lambda share=share: len(_notices(tg)) >= share * ROWS, 60, f"{share:.0%} sent")  # type: ignore[misc]
            terminated += admin.execute(terminate, (name,)).fetchone()[0]  # type: ignore[index]
            commands.one(user)  # on a replica whose connections were all just ended
            commands.one(user + 1)  # and on the other
            user += 2
        assert terminated >= 6  # both replicas' writers, readers and lease connections
        _wait(lambda: len(set(_notices(tg))) == ROWS, 60, "every reminder sent")
        time.sleep(LEASE)  # anything sent twice would have gone out by now
        assert commands.one(user) == "added"
        assert commands.one(user + 1) == "added"

    sent, doubled = _sent_figures(tg)
    print(f"\n{terminated} backends terminated; doubled {len(doubled)}; {commands.figures()}")
    assert doubled == [] and sorted(sent) == list(range(FIRST_CHAT, FIRST_CHAT + ROWS))
    commands.check_truthful(url)
