"""In webhook mode any number of replicas can sit behind a load balancer (issue 16).

Two `lysyme-bot run` processes on one PostgreSQL schema, each serving its webhook on a port of
its own, both registering the same public URL: a small round-robin proxy (the load balancer)
that forwards each POST of the fake Bot API server, headers included, to one replica then the
other. No LYSYME_WEBHOOK_SECRET: both derive the same secret from the token, so neither refuses
the updates meant for the other. A clinician screens a whole eligible patient, the updates
alternating between the replicas; the team notice leaves once, from the leader; both stop
cleanly on SIGTERM and the audit trail verifies."""

from __future__ import annotations

import http.server
import itertools
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.conftest import ADMIN, TEAM_CHAT, eligible_male, real_now
from tests.e2e.conftest import CLINICIAN, process_env, replica_role, run_process
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.test_webhook_e2e import say, tap, wait_for_port

#: Hop-by-hop headers and those the forwarding client sets itself; the rest (the secret token
#: header, Content-Type) reach the replica as the load balancer received them.
NOT_FORWARDED = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


class RoundRobin:
    """The load balancer: each POST to the next replica in turn; the replica's answer back."""

    def __init__(self) -> None:
        self._next: Iterator[str] = iter(())
        self._lock = threading.Lock()
        #: (target, HTTP status the replica answered) -> how many POSTs.
        self.forwards: Counter[tuple[str, int]] = Counter()

    def balance(self, targets: list[str]) -> None:
        with self._lock:
            self._next = itertools.cycle(targets)

    def pick(self) -> str:
        with self._lock:
            return next(self._next)

    def record(self, target: str, status: int) -> None:
        with self._lock:
            self.forwards[(target, status)] += 1

    def handled_by(self, target: str) -> int:
        with self._lock:
            return sum(n for (t, _), n in self.forwards.items() if t == target)

    def statuses(self) -> set[int]:
        with self._lock:
            return {status for _, status in self.forwards}


@contextmanager
def load_balancer() -> Iterator[tuple[str, RoundRobin]]:
    """A threaded HTTP proxy on 127.0.0.1: its base URL and its round robin (targets to set)."""
    balancer = RoundRobin()

    class Forward(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
            target = balancer.pick()
            try:
                answer = httpx.post(target + self.path, content=body, headers=headers, timeout=10)
            except httpx.HTTPError:
                self.send_error(502)
                balancer.record(target, 502)
                return
            balancer.record(target, answer.status_code)
            self.send_response(answer.status_code)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads `balancer.forwards`."""

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=proxy.serve_forever, name="load-balancer", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}", balancer
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=5)


def free_ports(count: int) -> list[int]:
    """Distinct free ports: all held open at once while the kernel picks them."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def _wait_for_roles(workdirs: list[Path], timeout: float = 10.0) -> dict[str, Path]:
    """Once one replica leads and the other stands by: role -> its folder."""
    deadline = time.monotonic() + timeout
    while (roles := {replica_role(w): w for w in workdirs}).keys() != {"leader", "standby"}:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"roles after {timeout:.0f} s: {[replica_role(w) for w in workdirs]}"
            )
        time.sleep(0.05)  # waiting for the lease, bounded by the deadline
    return {str(role): workdir for role, workdir in roles.items()}


def _answer(tg: FakeTelegram, how: str, expect: str) -> None:
    kind, _, value = how.partition(":")
    if kind == "tap":
        tap(tg, CLINICIAN, value, expect=expect)
    else:
        say(tg, CLINICIAN, value, expect=expect)


def test_two_webhook_replicas_behind_a_round_robin_load_balancer(
    server: FakeTelegram, tmp_path: Path, postgres_target: str
) -> None:
    tg = server
    url = postgres_target
    workdirs = [tmp_path / "replica-a", tmp_path / "replica-b"]
    processes: list[subprocess.Popen[bytes]] = []
    with load_balancer() as (public, balancer):
        hook = f"{public}/hook"
        ports = free_ports(2)  # while the balancer holds its own
        replicas = [f"http://127.0.0.1:{p}" for p in ports]
        balancer.balance(replicas)
        mark = tg.mark()
        try:
            for workdir, listen_port in zip(workdirs, ports, strict=True):
                workdir.mkdir()
                env = process_env(tg, workdir, LYSYME_DATABASE=url, LYSYME_DATABASE_POOL_SIZE="3",
                                  LYSYME_WEBHOOK_URL=hook, LYSYME_WEBHOOK_LISTEN="127.0.0.1",
                                  LYSYME_WEBHOOK_PORT=str(listen_port))  # fmt: skip
                processes.append(run_process(env, workdir))
            for process, listen_port in zip(processes, ports, strict=True):
                wait_for_port(listen_port, process)
            # Both set the webhook to the load balancer, with one secret neither was given.
            registered = [c for c in tg.calls("setWebhook") if c.index >= mark]
            assert len(registered) == 2, [c.summary for c in registered]
            assert {c.params["url"] for c in registered} == {hook}
            secrets = {c.params.get("secret_token") for c in registered}
            assert len(secrets) == 1 and None not in secrets, "the replicas disagree on the secret"
            roles = _wait_for_roles(workdirs)

            say(tg, ADMIN, f"/adduser {CLINICIAN} clinician", expect=str(CLINICIAN))
            assert "HMN-001" in say(tg, CLINICIAN, "/screen", expect="Date of first symptoms")
            script = eligible_male(real_now())  # the bots run on the real clock
            labels = [label for label, _ in script]
            for index, (_, how) in enumerate(script):
                _answer(tg, how, expect=labels[index + 1] if index + 1 < len(labels) else "summary")
            tap(tg, CLINICIAN, "Confirm", expect="all criteria are met")
            tg.run_sync(tg.wait_for_message(TEAM_CHAT, contains="HMN-001", timeout=15))

            # Each replica handled its share, and neither refused one (403: a wrong secret).
            assert all(balancer.handled_by(r) > 0 for r in replicas), balancer.forwards
            assert balancer.statuses() == {200}, balancer.forwards
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    raise
    stderrs = {}
    for workdir, process in zip(workdirs, processes, strict=True):
        stderr = process.stderr.read().decode() if process.stderr else ""
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr
        stderrs[workdir] = stderr

    # The team heard of HMN-001 once, from the leader (the standby's sender never sweeps).
    notices = [m for m in tg.sent_messages(TEAM_CHAT) if "HMN-001" in m.get("text", "")]
    assert len(notices) == 1, [m["text"][:80] for m in notices]
    assert "reminders: " in stderrs[roles["leader"]]
    assert "reminders: " not in stderrs[roles["standby"]]

    verified = subprocess.run(
        [sys.executable, "-m", "bot.cli", "verify-audit"],
        env=process_env(tg, tmp_path, LYSYME_DATABASE=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("verify-audit: intact")
