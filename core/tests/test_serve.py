"""`manage.py serve`: the server's configuration, the login lockout through a real server, the supervisor."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from core.management.commands.serve import (
    DEMO_ADMIN,
    Child,
    Supervisor,
    demo_admin_exposed,
    server_args,
    supervised_children,
)

ROOT = Path(__file__).resolve().parent.parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_database_url() -> str:
    """The test database, as DATABASE_URL for a server in another process."""
    d = connection.settings_dict
    if "sqlite" in d["ENGINE"]:
        return f"sqlite:///{d['NAME']}"
    auth = f"{d['USER']}:{d['PASSWORD']}@" if d.get("PASSWORD") else f"{d['USER']}@"
    return f"postgres://{auth}{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def _post(port: int, path: str, body: dict, headers: dict) -> tuple[int, str]:
    """(status, error code) of a JSON POST."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the test's own server
            return response.status, ""
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}").get("error", {}).get("code", "")


def _wait_until_listening(proc: subprocess.Popen, port: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _server_command(port: int) -> list[str]:
    """What `manage.py serve` starts as its server child: uvicorn configured by server_args()."""
    return [sys.executable, "manage.py", "serve", "--server-only", "--host", "127.0.0.1", "--port", str(port)]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_rotating_x_forwarded_for_does_not_escape_the_lockout(tmp_path):
    """Through a real server as `make run` starts it: six wrong passwords for one user from one machine,
    each claiming another address in X-Forwarded-For, and the lockout still comes (TRUSTED_PROXY_COUNT=0:
    the header is nobody's word)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _child_database_url(),
        "GONGZHI_VAR_DIR": str(tmp_path),
        "TRUSTED_PROXY_COUNT": "0",
        "AXES_FAILURE_LIMIT": str(settings.AXES_FAILURE_LIMIT),
        "DEBUG": "false",
        # The per-username rate limit of logins (core.ratelimit) out of the way: the lockout is tested.
        "GONGZHI_RATE_LIMIT_FACTOR": "1000",
    }
    env.pop("FORWARDED_ALLOW_IPS", None)
    proc = subprocess.Popen(  # noqa: S603 - our own command line
        _server_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        if not _wait_until_listening(proc, port, 15.0):  # seconds only on a loaded machine
            proc.kill()
            _out, err = proc.communicate(timeout=5)
            pytest.skip(f"the server did not start on port {port}: {err.decode(errors='replace')[-500:]}")
        statuses = [
            _post(
                port,
                "/api/v1/auth/token",
                {"username": "guesser-target", "password": f"wrong-{i}"},
                {"X-Forwarded-For": f"203.0.113.{i + 1}"},
            )
            for i in range(settings.AXES_FAILURE_LIMIT + 1)
        ]
        # The server's metrics count those requests, whichever of its processes answered (shared through
        # PROMETHEUS_MULTIPROC_DIR, named before prometheus_client was first imported).
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            scraped = response.read().decode()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [(401, "auth.bad_credentials")] * (limit - 1), statuses
    assert statuses[limit - 1 :] == [(429, "auth.locked_out")] * 2, statuses
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in scraped.splitlines()
        if line.startswith("gongzhi_http_request_duration_seconds_count{")
        and 'route="api/v1/auth/token"' in line
        and 'method="POST"' in line
    ]
    assert sum(counted) == limit + 1, scraped[:2000]


# --- the server's configuration --------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2])
def test_server_args_serve_the_one_port_app_unwrapped(settings, count):
    """Whatever TRUSTED_PROXY_COUNT says, the server gets gongzhi.asgi's application as it is: nothing
    between granian and the app rewrites the client address (the app reads X-Forwarded-For itself, only
    as far as TRUSTED_PROXY_COUNT allows, in accounts.lockout.client_ip). The lockout test above drives
    the real server."""
    from granian.constants import Interfaces

    import gongzhi.asgi

    settings.TRUSTED_PROXY_COUNT = count
    settings.WEB_WORKERS = 3
    args = server_args(settings, host="10.1.2.3", port=8123)
    assert (args["target"], args["address"], args["port"]) == ("gongzhi.asgi:application", "10.1.2.3", 8123)
    assert args["interface"] == Interfaces.ASGI and args["workers"] == 3
    assert not [k for k in args if "proxy" in k or "forward" in k]
    assert gongzhi.asgi.application.__module__ == "gongzhi.asgi"


def test_granian_has_no_switch_that_trusts_proxy_headers():
    """granian (production's server) believes X-Forwarded-For only when the app is wrapped in
    granian.utils.proxies.wrap_wsgi_with_proxy_headers / wrap_asgi_with_proxy_headers, which we never do.
    Should a release add a command-line switch for it, look at its default and at server_args' docstring."""
    from granian.cli import cli

    names = {p.name or "" for p in cli.params} | {o for p in cli.params for o in p.opts}
    assert not [n for n in names if "proxy" in n.lower() or "forward" in n.lower()]
    assert not [line for line in (ROOT / "gongzhi").glob("*sgi.py") if "proxies" in line.read_text()]


# --- the children -----------------------------------------------------------------------------------


def test_serve_supervises_the_server_and_the_seven_workers(settings):
    children = supervised_children(settings, host="127.0.0.1", port=8000)
    assert [c.name for c in children] == [
        "server",
        "run_deadlines",
        "run_outbox",
        "run_sos",
        "run_points",
        "run_rollups",
        "run_mediation",
        "run_webhooks",
        "run_imports",
    ]
    server = children[0]
    assert server.critical and server.argv[1:] == [
        str(ROOT / "manage.py"),
        "serve",
        "--server-only",
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
    ]
    assert children[3].argv[1:] == [str(ROOT / "manage.py"), "run_sos"] and not children[3].critical


class FakeProcess:
    pids = iter(range(100, 10_000))

    def __init__(self, argv):
        self.argv = argv
        self.pid = next(self.pids)
        self.returncode = None
        self.signals: list[str] = []
        self.deaf = False  # ignores SIGTERM

    def poll(self):
        return self.returncode

    def exit(self, code):
        self.returncode = code

    def terminate(self):
        self.signals.append("TERM")
        if not self.deaf:
            self.returncode = -15

    def kill(self):
        self.signals.append("KILL")
        self.returncode = -9

    def wait(self, timeout=None):
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.argv, timeout)
        return self.returncode


class FakeWorld:
    def __init__(self):
        self.t = 1000.0
        self.started: list[FakeProcess] = []

    def now(self):
        return self.t

    def spawn(self, argv):
        proc = FakeProcess(argv)
        self.started.append(proc)
        return proc

    def running(self, name):
        return [p for p in self.started if p.argv == [name] and p.returncode is None]


def _supervisor(world, *children, **kw):
    return Supervisor(
        list(children), spawn=world.spawn, now=world.now, backoff=1.0, backoff_max=8.0, stable_after=30.0, **kw
    )


def test_a_worker_that_dies_is_restarted_with_a_growing_backoff(caplog):
    world = FakeWorld()
    sup = _supervisor(world, Child("run_sos", ["run_sos"]), Child("run_outbox", ["run_outbox"]))
    sup.start_all()
    assert len(world.started) == 2
    delays = []
    for _ in range(5):
        (proc,) = world.running("run_sos")
        proc.exit(1)
        died = world.t
        assert sup.poll() is None
        assert world.running("run_sos") == []  # not at once: a worker that cannot start must not spin
        while not world.running("run_sos"):
            world.t += 0.25
            sup.poll()
        delays.append(world.t - died)
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(world.running("run_outbox")) == 1  # the others are left alone
    assert sup.children[0].restarts == 5
    assert "run_sos exited with code 1; restarting in 1 s" in caplog.text


def test_a_worker_that_ran_a_good_while_is_restarted_at_once_backoff_reset(caplog):
    world = FakeWorld()
    sup = _supervisor(world, Child("run_sos", ["run_sos"]))
    sup.start_all()
    for _ in range(3):  # three quick deaths: 1, 2, 4 s
        world.running("run_sos")[0].exit(1)
        sup.poll()
        world.t += 10
        sup.poll()
    world.t += 3600  # then an hour of good work
    world.running("run_sos")[0].exit(-9)  # the OOM killer
    sup.poll()
    world.t += 1.0
    sup.poll()
    assert len(world.running("run_sos")) == 1
    assert "run_sos exited with code -9; restarting in 1 s" in caplog.text


def test_the_server_failing_at_its_first_start_ends_serve(caplog):
    """The address is taken, or the configuration is wrong: retrying for ever would hide it."""
    world = FakeWorld()
    sup = _supervisor(world, Child("server", ["server"], critical=True), Child("run_sos", ["run_sos"]))
    sup.start_all()
    world.t += 0.5
    world.running("server")[0].exit(1)
    assert sup.poll() == 1
    assert "server exited with code 1" in caplog.text


def test_the_server_that_dies_later_is_restarted():
    world = FakeWorld()
    sup = _supervisor(world, Child("server", ["server"], critical=True))
    sup.start_all()
    world.t += 60
    world.running("server")[0].exit(1)
    assert sup.poll() is None
    world.t += 1
    sup.poll()
    assert len(world.running("server")) == 1


def test_stop_all_terminates_then_kills_the_deaf():
    world = FakeWorld()
    sup = _supervisor(world, Child("run_a", ["run_a"]), Child("run_b", ["run_b"]), stop_timeout=0.01)
    sup.start_all()
    a, b = world.started
    b.deaf = True
    sup.stop_all()
    assert (a.signals, a.returncode) == (["TERM"], -15)
    assert (b.signals, b.returncode) == (["TERM", "KILL"], -9)
    assert sup.poll() is None and len(world.started) == 2  # stopping: nothing is restarted


def test_real_children_a_crashing_one_restarted_all_stopped_on_sigterm(caplog):
    """With processes: a child that exits at once is started again (after its backoff), and SIGTERM to
    `serve` (sent here by a child, once the supervisor has its handlers) stops every child and returns."""
    python = sys.executable
    crashing = Child("crashing", [python, "-c", "import sys; sys.exit(3)"])
    steady = Child("steady", [python, "-c", "import time; time.sleep(60)"])
    stopper = Child(
        "stopper",
        [
            python,
            "-c",
            "import os, signal, time; time.sleep(0.6); os.kill(os.getppid(), signal.SIGTERM); time.sleep(60)",
        ],
    )
    sup = Supervisor([crashing, steady, stopper], backoff=0.05, backoff_max=0.1, stop_timeout=5.0)
    started = time.monotonic()
    assert sup.run(poll_every=0.02) == 0
    assert time.monotonic() - started < 5
    assert crashing.restarts >= 2
    assert "crashing exited with code 3; restarting in" in caplog.text
    for child in (crashing, steady, stopper):
        assert child.proc is not None and child.proc.poll() is not None
    assert steady.proc.returncode == -15


# --- the demo superuser ------------------------------------------------------------------------------


@pytest.fixture
def demo_admin(db):
    return get_user_model().objects.create_superuser(DEMO_ADMIN[0], password=DEMO_ADMIN[1])


def test_demo_admin_with_demo_password_and_debug_off_is_warned_of(demo_admin, settings):
    settings.DEBUG = False
    assert demo_admin_exposed()
    out, err = io.StringIO(), io.StringIO()
    call_command("serve", "--dry-run", stdout=out, stderr=err)
    assert "manage.py changepassword admin" in err.getvalue()
    assert "serve --server-only" in out.getvalue()  # the dry run says what it would start


@pytest.mark.parametrize("case", ["debug", "changed", "inactive", "absent"])
def test_no_demo_admin_warning_otherwise(demo_admin, settings, case):
    settings.DEBUG = case == "debug"
    if case == "changed":
        demo_admin.set_password("a-real-secret-now")
        demo_admin.save()
    elif case == "inactive":
        demo_admin.is_active = False
        demo_admin.save()
    elif case == "absent":
        demo_admin.delete()
    assert not demo_admin_exposed()
    err = io.StringIO()
    call_command("serve", "--dry-run", stdout=io.StringIO(), stderr=err)
    assert "changepassword" not in err.getvalue()
