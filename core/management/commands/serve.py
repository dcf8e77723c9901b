"""`manage.py serve`: the web server and the background workers, each a child process, kept running.

What `make run` starts after migrating and seeding. The children are the server (`serve --server-only`:
granian with the configuration of `server_args`, WEB_WORKERS processes of gongzhi.asgi's one-port app) and
every worker command of settings.WORKER_COMMANDS. A child
that exits is started again after a pause that doubles with each quick failure (1 s, 2 s, 4 s … up to a
minute; back to 1 s once it has run for a while); the server failing at its very first start (its
address is taken) ends `serve` instead. SIGINT (Ctrl-C) or SIGTERM stops every child — SIGTERM, then
SIGKILL for one that has not gone within ten seconds — and `serve` returns.

For a production box, systemd units per process do the same job; `serve` is the one-command version.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _

log = logging.getLogger("gongzhi.serve")

# The demo loader's superuser (demo/county.py; published in the Makefile and README). Spelled out here:
# core imports no app.
DEMO_ADMIN = ("admin", "gongzhi-demo")


def server_args(conf: Any, *, host: str, port: int) -> dict[str, Any]:
    """Keyword arguments for granian.Granian to serve the site: gongzhi.asgi's one-port application (sync
    views on a WSGI thread pool, the live stream on the event loop), conf.WEB_WORKERS processes.

    Forwarded headers: granian never reads X-Forwarded-For or X-Forwarded-Proto unless the app is wrapped in
    granian.utils.proxies.wrap_asgi_with_proxy_headers (or the WSGI one), and neither its command line nor
    this configuration has a switch for that (core/tests/test_serve.py fails should a release grow one).
    The app reads X-Forwarded-For itself, as far as TRUSTED_PROXY_COUNT allows (accounts.lockout.client_ip:
    only the hops our own proxies appended); one place decides, counted from the right. A server that
    trusted forwarded headers by the connection's address (uvicorn's default for 127.0.0.1, which `serve`
    ran until 2026-12) let each password guess through a local nginx claim a "new" address. Behind an
    HTTPS proxy the scheme comes from CSRF_TRUSTED_ORIGINS (or Django's SECURE_PROXY_SSL_HEADER). Do not
    wrap gongzhi.wsgi / gongzhi.asgi.
    """
    from granian.constants import Interfaces

    return {
        "target": "gongzhi.asgi:application",
        "address": host,
        "port": port,
        "interface": Interfaces.ASGI,
        "workers": conf.WEB_WORKERS,
        # The event loop's thread; sync views run on gongzhi.asgi's own pool (WEB_THREADS).
        "blocking_threads": 1,
        "websockets": False,
        "respawn_failed_workers": True,
        "log_level": "warning" if not conf.DEBUG else "info",
    }


def share_metrics(conf: Any) -> None:
    """The server's processes share their request metrics (core.metrics) through files in one directory:
    VAR_DIR/metrics, emptied at each start, unless PROMETHEUS_MULTIPROC_DIR already names one (deploy/). Before
    prometheus_client is first imported in this process (it reads the variable then), so before the checks."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = Path(conf.VAR_DIR) / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


class Process(Protocol):
    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


class Child:
    """One supervised command line. `critical`: its failure at its first start ends `serve`."""

    def __init__(self, name: str, argv: Sequence[str], *, critical: bool = False) -> None:
        self.name = name
        self.argv = list(argv)
        self.critical = critical
        self.proc: Process | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.quick_failures = 0  # in a row: sets the next pause
        self.ever_stable = False  # has run for stable_after at least once
        self.start_at: float | None = None  # when a dead child is due to start again


def _spawn(argv: list[str]) -> Process:
    # Same process group: Ctrl-C in a terminal reaches the children at once too; closing the terminal
    # (SIGHUP) ends them with `serve`.
    return subprocess.Popen(argv)  # noqa: S603 - our own command lines (supervised_children), no shell


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        *,
        spawn: Callable[[list[str]], Process] = _spawn,
        now: Callable[[], float] = time.monotonic,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        stable_after: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.children = children
        self.spawn = spawn
        self.now = now
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.stopping = False

    def _start(self, child: Child) -> None:
        child.proc = self.spawn(child.argv)
        child.started_at = self.now()
        child.start_at = None
        log.info("%s started (pid %s)", child.name, child.proc.pid)

    def start_all(self) -> None:
        for child in self.children:
            self._start(child)

    def poll(self) -> int | None:
        """Reap children that exited and start those whose pause is over. Returns an exit code when
        `serve` must end (the server could not start), else None."""
        if self.stopping:
            return None
        now = self.now()
        for child in self.children:
            if child.proc is None:
                continue
            if child.start_at is not None:
                if now >= child.start_at:
                    child.restarts += 1
                    self._start(child)
                continue
            code = child.proc.poll()
            if code is None:
                if now - child.started_at >= self.stable_after:
                    child.ever_stable = True
                continue
            ran = now - child.started_at
            if ran >= self.stable_after:
                child.ever_stable = True
                child.quick_failures = 0
            if child.critical and not child.ever_stable and child.restarts == 0:
                log.error("%s exited with code %s %.1f s after it started; stopping everything", child.name, code, ran)
                self.stop_all()
                return 1
            pause = min(self.backoff_max, self.backoff * 2**child.quick_failures)
            child.quick_failures += 1
            child.start_at = now + pause
            log.warning("%s exited with code %s; restarting in %g s", child.name, code, pause)
        return None

    def stop_all(self) -> None:
        """SIGTERM to every running child, then SIGKILL to those still there after stop_timeout."""
        self.stopping = True
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = self.now() + self.stop_timeout
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - self.now()))
            except subprocess.TimeoutExpired:
                log.warning("pid %s did not stop within %g s: killed", proc.pid, self.stop_timeout)
                proc.kill()
                proc.wait()

    def _on_signal(self, signum: int, frame: object) -> None:
        log.info("signal %s: stopping the children", signum)
        self.stopping = True

    def run(self, *, poll_every: float = 0.2) -> int:
        """Start every child and keep them running until SIGINT/SIGTERM (0) or the server cannot start (1)."""
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        code = 0
        try:
            self.start_all()
            while not self.stopping:
                failed = self.poll()
                if failed is not None:
                    code = failed
                    break
                time.sleep(poll_every)
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code


def supervised_children(conf: Any, *, host: str, port: int) -> list[Child]:
    manage = str(conf.BASE_DIR / "manage.py")
    server = Child(
        "server",
        [sys.executable, manage, "serve", "--server-only", "--host", host, "--port", str(port)],
        critical=True,
    )
    return [server] + [Child(name, [sys.executable, manage, name]) for name in conf.WORKER_COMMANDS]


def demo_admin_exposed() -> bool:
    """The demo superuser, still with the published demo password, on a server not in DEBUG."""
    if settings.DEBUG:
        return False
    username, password = DEMO_ADMIN
    try:
        user = get_user_model()._default_manager.filter(username=username, is_active=True).first()
    except DatabaseError:  # not migrated yet: nothing to warn of
        return False
    return user is not None and user.check_password(password)


class Command(BaseCommand):
    help = (
        "Serve the site (granian, gongzhi.asgi's one-port app) and run the background workers of "
        "settings.WORKER_COMMANDS beside it, restarting any that exits; Ctrl-C or SIGTERM stops them all. "
        "--server-only: the server alone, in this process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--server-only", action="store_true", help="run just the web server, in this process")
        parser.add_argument("--dry-run", action="store_true", help="print what would be started and exit")

    # The checks import the URLconf, and with it prometheus_client, which reads PROMETHEUS_MULTIPROC_DIR once,
    # when first imported: handle() names the directory first and then runs them (self.check()).
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["server_only"]:
            share_metrics(settings)
        self.check()
        if not opts["server_only"] and demo_admin_exposed():
            self.stderr.write(
                self.style.WARNING(
                    _(
                        "WARNING: the demo superuser “%(username)s” still has the published demo password "
                        "“%(password)s”, and DEBUG is off. Anyone who can reach this server can sign in as "
                        "administrator. Change the password now (manage.py changepassword %(username)s) or "
                        "delete the user."
                    )
                    % {"username": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]}
                )
            )
        if opts["server_only"]:
            from granian import Granian

            Granian(**server_args(settings, host=opts["host"], port=opts["port"])).serve()
            return
        children = supervised_children(settings, host=opts["host"], port=opts["port"])
        if opts["dry_run"]:
            for child in children:
                self.stdout.write(f"{child.name}: {' '.join(child.argv)}")
            return
        code = Supervisor(children).run()
        if code:
            sys.exit(code)
