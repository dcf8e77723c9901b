"""deploy/ and docs/runbook.md stay true to the code: the workers the settings expect are the ones systemd
starts, the units start entry points that exist with options the pinned granian knows, nginx streams the
one-key calls unbuffered and never serves uploads itself, and the environment file names only variables
that settings.py reads. Plain file reading; no database."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
SETTINGS_SOURCE = (ROOT / "gongzhi" / "settings.py").read_text()
LONG_RUNNING = ["gongzhi-web.service", "gongzhi-stream.service", "gongzhi-worker@.service"]
ALL_UNITS = [*LONG_RUNNING, "gongzhi-backup.service", "gongzhi-retention.service"]


# --- readers ----------------------------------------------------------------------------------------------


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file as {section: [(key, value), ...]}: keys repeat (Wants=, Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in (SYSTEMD / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        assert current is not None, f"{name}: {line!r} before any section"
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def values(name: str, section: str, key: str) -> list[str]:
    return [v for k, v in unit(name).get(section, []) if k == key]


def one(name: str, section: str, key: str) -> str:
    found = values(name, section, key)
    assert len(found) == 1, f"{name}: [{section}] {key}= appears {len(found)} times"
    return found[0]


def env_example() -> dict[str, str]:
    """Every NAME=value of gongzhi.env.example, the commented-out ones too (they are offered to be set)."""
    names = {}
    for line in (DEPLOY / "gongzhi.env.example").read_text().splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            names[m.group(1)] = m.group(2)
    return names


class Block:
    def __init__(self, name: str, args: list[str]) -> None:
        self.name, self.args = name, args
        self.directives: list[tuple[str, list[str]]] = []
        self.blocks: list[Block] = []

    def get(self, name: str) -> list[list[str]]:
        return [args for n, args in self.directives if n == name]

    def find(self, name: str) -> list[Block]:
        return [b for b in self.blocks if b.name == name]


def nginx() -> Block:
    """deploy/nginx/gongzhi.conf as a tree of blocks (enough of nginx's grammar for this file)."""
    text = re.sub(r"#[^\n]*", "", (DEPLOY / "nginx" / "gongzhi.conf").read_text())
    tokens = re.findall(r'"[^"]*"|\'[^\']*\'|[{};]|[^\s{};]+', text)
    root = Block("main", [])
    stack, words = [root], []
    for tok in tokens:
        if tok == "{":
            block = Block(words[0], words[1:])
            stack[-1].blocks.append(block)
            stack.append(block)
            words = []
        elif tok == "}":
            assert not words, f"nginx: unterminated directive {words}"
            stack.pop()
        elif tok == ";":
            stack[-1].directives.append((words[0], [w.strip("\"'") for w in words[1:]]))
            words = []
        else:
            words.append(tok)
    assert len(stack) == 1 and not words, "nginx: unbalanced braces"
    return root


def https_server() -> Block:
    servers = [s for s in nginx().find("server") if any("ssl" in args for args in s.get("listen"))]
    assert len(servers) == 1
    return servers[0]


def location(path: str) -> Block:
    found = [b for b in https_server().find("location") if b.args[-1] == path]
    assert len(found) == 1, f"nginx: {len(found)} locations for {path}"
    return found[0]


def size(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(value[:-1]) * units[value[-1].lower()] if value[-1].isalpha() else int(value)


def seconds(value: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(value[:-1]) * units[value[-1]] if value[-1].isalpha() else int(value)


def upstream_servers(name: str) -> list[str]:
    (block,) = [b for b in nginx().find("upstream") if b.args == [name]]
    return [args[0] for args in block.get("server")]


def exec_start(name: str) -> list[str]:
    """ExecStart= split into words, ${VAR} replaced by the unit's own Environment= defaults."""
    env = dict(v.split("=", 1) for v in values(name, "Service", "Environment"))
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], one(name, "Service", "ExecStart"))
    return shlex.split(line)


def granian_params(name: str) -> dict:
    """The ExecStart's arguments as the pinned granian's command line parses them (nothing is started)."""
    from granian.cli import cli

    argv = exec_start(name)
    assert argv[0] == "/opt/gongzhi/.venv/bin/granian", argv
    return cli.make_context("granian", argv[1:]).params


# --- workers ----------------------------------------------------------------------------------------------


def test_every_worker_command_is_a_management_command():
    commands = get_commands()
    assert settings.WORKER_COMMANDS
    for name in settings.WORKER_COMMANDS:
        assert name in commands, f"{name} of WORKER_COMMANDS has no management command"
        assert isinstance(load_command_class(commands[name], name), BaseCommand)


def test_the_target_starts_web_stream_and_one_of_each_worker():
    wants = {w for line in values("gongzhi.target", "Unit", "Wants") for w in line.split()}
    workers = {w.removeprefix("gongzhi-worker@").removesuffix(".service") for w in wants if "@" in w}
    assert workers == set(settings.WORKER_COMMANDS)
    assert {"gongzhi-web.service", "gongzhi-stream.service"} <= wants
    for name in LONG_RUNNING:
        assert one(name, "Unit", "PartOf") == "gongzhi.target", name


def test_the_worker_unit_runs_its_instance_with_the_venv_python():
    assert exec_start("gongzhi-worker@.service") == ["/opt/gongzhi/.venv/bin/python", "manage.py", "%i"]
    # Long enough for a step in hand to finish after SIGTERM (core.worker stops between steps).
    assert int(one("gongzhi-worker@.service", "Service", "TimeoutStopSec")) >= 60


# --- units ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_units_restart(name):
    assert one(name, "Service", "Restart") in {"always", "on-failure"}
    assert float(one(name, "Service", "RestartSec")) > 0
    assert one(name, "Service", "TimeoutStopSec")
    # StartLimit* belong to [Unit]: systemd ignores them (with a warning) under [Service].
    assert not values(name, "Service", "StartLimitIntervalSec")
    assert one(name, "Unit", "StartLimitIntervalSec") == "0"


@pytest.mark.parametrize("name", ALL_UNITS)
def test_units_run_as_gongzhi_hardened_and_write_only_the_var_dir(name):
    assert one(name, "Service", "User") == "gongzhi"
    assert one(name, "Service", "WorkingDirectory") == "/opt/gongzhi"
    assert one(name, "Service", "EnvironmentFile") == "/etc/gongzhi/gongzhi.env"
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes")]:
        assert one(name, "Service", key) == value, (name, key)
    assert one(name, "Service", "ReadWritePaths") == env_example()["GONGZHI_VAR_DIR"]


def test_the_web_is_wsgi_one_thread_per_process_and_not_wrapped_in_proxies():
    params = granian_params("gongzhi-web.service")
    assert params["interface"] == "wsgi"
    assert params["blocking_threads"] == 1
    assert params["websockets"] is False
    assert params["port"] == 8000
    assert params["workers"] >= 1
    assert params["app"] == "gongzhi.wsgi:application"
    assert "proxies" not in one("gongzhi-web.service", "Service", "ExecStart")
    module, attr = params["app"].split(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_the_stream_is_djangos_plain_asgi_handler():
    from django.core.handlers.asgi import ASGIHandler

    params = granian_params("gongzhi-stream.service")
    assert params["interface"] == "asgi"
    assert params["workers"] == 1
    assert params["websockets"] is False
    assert (params["host"], params["port"]) == ("127.0.0.1", 8001)
    assert params["app"] == "gongzhi.asgi:django_application"
    module, attr = params["app"].split(":")
    assert isinstance(getattr(importlib.import_module(module), attr), ASGIHandler)


def test_the_web_processes_share_metrics_through_a_fresh_runtime_directory():
    env = dict(v.split("=", 1) for v in values("gongzhi-web.service", "Service", "Environment"))
    runtime = one("gongzhi-web.service", "Service", "RuntimeDirectory")
    assert env["PROMETHEUS_MULTIPROC_DIR"] == f"/run/{runtime}"


# --- nginx ------------------------------------------------------------------------------------------------


def test_the_stream_goes_unbuffered_to_the_stream_process():
    from gongzhi.asgi import ASYNC_PATHS

    assert reverse("sos:stream").startswith("/sos/stream/")
    assert ASYNC_PATHS == ("/sos/stream/",)
    stream = location("/sos/stream/")
    assert stream.get("proxy_buffering") == [["off"]]
    assert stream.get("proxy_cache") == [["off"]]
    assert stream.get("proxy_http_version") == [["1.1"]]
    assert seconds(stream.get("proxy_read_timeout")[0][0]) >= 3600
    assert stream.get("proxy_pass") == [["http://gongzhi_stream"]]
    assert upstream_servers("gongzhi_stream") == ["127.0.0.1:8001"]
    assert "127.0.0.1:8000" in upstream_servers("gongzhi_web")


def test_nginx_never_serves_uploads_itself():
    paths = [b.args[-1] for b in https_server().find("location")]
    assert not [p for p in paths if p.startswith(settings.MEDIA_URL.rstrip("/"))], paths
    for block in https_server().find("location"):
        for directive in ("alias", "root"):
            for args in block.get(directive):
                assert "media" not in args[0], (block.args, args)
    assert location("/").get("proxy_pass") == [["http://gongzhi_web"]]


def test_forwarded_headers_are_set_once_for_every_location():
    server = https_server()
    headers = {args[0]: args[1] for args in server.get("proxy_set_header")}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["Host"] == "$host"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["Connection"] == ""
    # A location with a proxy_set_header of its own would inherit none of these: logins would then all
    # count against nginx's address.
    for block in server.find("location"):
        assert not block.get("proxy_set_header"), block.args
    assert env_example()["TRUSTED_PROXY_COUNT"] == "1"


def test_static_files_come_from_static_root_under_the_env_var_dir():
    static = location(settings.STATIC_URL)
    assert static.get("alias") == [[f"{env_example()['GONGZHI_VAR_DIR']}/staticfiles/"]]
    assert Path(settings.VAR_DIR) / "staticfiles" == settings.STATIC_ROOT


def test_tls_only_with_hsts_and_plain_http_redirected():
    server = https_server()
    assert server.get("ssl_protocols") == [["TLSv1.2", "TLSv1.3"]]
    assert any(args[0] == "Strict-Transport-Security" for args in server.get("add_header"))
    (plain,) = [s for s in nginx().find("server") if not any("ssl" in args for args in s.get("listen"))]
    assert plain.get("listen") == [["80"], ["[::]:80"]]
    assert plain.find("location")[0].get("return")[0][0] == "301"


def test_body_limits_let_the_largest_uploads_through():
    workorders = settings.GONGZHI["WORKORDERS"]
    assert size(https_server().get("client_max_body_size")[0][0]) > workorders["PHOTO_MAX_BYTES"]
    imports = location(reverse("integrations:import_new"))
    limit = settings.GONGZHI["HOTLINE"]["MAX_FILE_MB"] * 1024 * 1024
    assert size(imports.get("client_max_body_size")[0][0]) > limit
    assert imports.get("proxy_pass") == [["http://gongzhi_web"]]


def test_metrics_only_to_the_monitoring_host():
    metrics = location("/metrics")
    assert metrics.get("deny") == [["all"]]
    assert metrics.get("allow")


# --- environment, Prometheus, runbook ---------------------------------------------------------------------


def test_every_variable_of_the_env_example_is_read_by_settings():
    names = env_example()
    assert {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "TRUSTED_PROXY_COUNT"} <= set(names)
    unread = [
        n
        for n in names
        if not re.search(rf"""(os\.environ\.get\(|os\.environ\[|env_bool\()\s*["']{n}["']""", SETTINGS_SOURCE)
    ]
    assert unread == [], f"gongzhi.env.example names variables settings.py does not read: {unread}"


def test_prometheus_scrapes_each_web_machine_with_the_token():
    (job,) = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"]
    assert job["metrics_path"] == reverse("metrics")
    assert job["authorization"]["credentials_file"]
    targets = [t for c in job["static_configs"] for t in c["targets"]]
    assert targets and all(t.endswith(":8000") for t in targets)
    assert "GONGZHI_METRICS_TOKEN" in env_example()


def test_the_runbooks_manage_py_commands_exist():
    text = (ROOT / "docs" / "runbook.md").read_text()
    used = set(re.findall(r"(?:^|[`(;&|]\s*|\$\(\s*)gz ([a-z_]+)", text, re.MULTILINE))
    assert {"migrate", "collectstatic", "backup", "restore", "backup_check"} <= used
    assert used - set(get_commands()) == set()
