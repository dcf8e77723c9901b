"""Backups and restores (core.backup; `manage.py backup`, `restore`, `backup_check`).

The load test runs real processes on their own SQLite database in a temporary folder: writers keep filing
work orders, awarding points and raising one-key calls while `manage.py backup` runs; the archive is restored
into a fresh folder, and every write acknowledged before the backup started must be in it. The other tests
work on small SQLite files of their own through core.backup's functions, never on the test database."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from core import backup
from gongzhi.test import ROOT, Processes, manage, manage_shell, process_env

SETUP = r"""
from accounts.models import User
from sos import services
r = User.objects.get(username='resident').resident
services.care_register(resident=r, by=User.objects.get(username='grid'))
print('ready')
"""

# One writer: in a loop until the stop file appears, a work order, a points award and a one-key call, each
# printed (its kind and id) only once its transaction has committed — the writer's acknowledgement.
WRITER = r"""
import itertools, os
from accounts.models import User
from catalog.models import Category
from points.services import award_manual
from sos import services as sos
from sos.models import CareProfile
from workorders.services import workorder_submit
res = User.objects.get(username='resident')
r = res.resident
village = User.objects.get(username='village')
profile = CareProfile.objects.get(resident=r)
category = Category.objects.filter(children__isnull=True).order_by('code').first()
tag, stop = os.environ['BK_TAG'], os.environ['BK_STOP']
for i in itertools.count():
    if os.path.exists(stop):
        break
    key = f'{tag}-{i}'
    o = workorder_submit(by=res, kind='complaint', category=category, text=f'backup test {key}', channel='mobile',
                         idempotency_key=key).order
    print('order', o.pk, flush=True)
    e, _ = award_manual(resident=r, amount=1, reason=f'backup test {key}', by=village, key=key)
    print('entry', e.pk, flush=True)
    c = sos.call_raise(profile=profile, kind='emergency', channel='button', by=res, idempotency_key=key).call
    print('call', c.pk, flush=True)
print('done', flush=True)
"""

IDS = """
import json
from points.models import Entry
from sos.models import Call
from workorders.models import WorkOrder
print(json.dumps({
    'order': list(WorkOrder.objects.values_list('id', flat=True)),
    'entry': list(Entry.objects.values_list('id', flat=True)),
    'call': list(Call.objects.values_list('id', flat=True)),
}))
"""


class Writer:
    """A writer child process and the acknowledgements it printed, read by a thread as they come."""

    def __init__(self, env: dict[str, str], tag: str, stop: Path) -> None:
        self.acked: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "shell", "-c", WRITER],
            cwd=ROOT,
            env={**env, "BK_TAG": tag, "BK_STOP": str(stop)},
            stdout=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            kind, _sep, pk = line.strip().partition(" ")
            if kind in ("order", "entry", "call"):
                with self.lock:
                    self.acked.append((kind, int(pk)))

    def snapshot(self) -> list[tuple[str, int]]:
        with self.lock:
            return list(self.acked)

    def stop(self) -> None:
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=10)


def _poll(until, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="its own SQLite database: the SQLite pass runs it"
)
@pytest.mark.slow
def test_a_backup_under_write_load_restores_every_acknowledged_write(tmp_path):
    live, fresh = tmp_path / "live", tmp_path / "fresh"
    live.mkdir()
    fresh.mkdir()
    env = process_env(live)
    manage(env, "migrate", "-v0")
    manage(env, "seed_demo", "--scale", "small", "--seed", "3", "--orders", "0", "--calls", "0", "--points", "0",
           "--fraction", "0.2")  # fmt: skip
    assert manage_shell(env, SETUP) == "ready"
    upload = live / "media" / "photos" / "2026" / "门牌.jpg"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(os.urandom(5000))

    stop = tmp_path / "stop"
    with Processes(env):
        writers = [Writer(env, f"w{n}", stop) for n in range(2)]
        try:
            # Every writer has committed a few of each before the backup starts.
            _poll(lambda: all(sum(k == "call" for k, _ in w.snapshot()) >= 3 for w in writers))
            before = {ack for w in writers for ack in w.snapshot()}
            started = time.monotonic()
            archive = manage(env, "backup", "--output", str(tmp_path / "out")).strip()
            took = time.monotonic() - started
            during = {ack for w in writers for ack in w.snapshot()} - before
        finally:
            stop.touch()
            for w in writers:
                w.stop()
        assert all(w.proc.returncode == 0 for w in writers)
    assert during, "the writers wrote nothing while the backup ran: not under load"
    assert Path(archive).is_file() and Path(archive).parent == tmp_path / "out", archive
    assert Path(archive).name.startswith("gongzhi-") and archive.endswith(".tar.gz")
    assert took < 60

    assert manage(env, "backup_check", archive).startswith("正常：")  # a child process speaks zh-Hans, the default
    fresh_env = process_env(fresh)
    manage(fresh_env, "restore", archive)

    db = fresh / "gongzhi.sqlite3"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    restored = json.loads(manage_shell(fresh_env, IDS))
    for kind in ("order", "entry", "call"):
        acked = {pk for k, pk in before if k == kind}
        assert acked, kind
        missing = acked - set(restored[kind])
        assert not missing, (kind, missing)
    assert (fresh / "media" / "photos" / "2026" / "门牌.jpg").read_bytes() == upload.read_bytes()
    # The restored site reconciles its points books (cached balances == ledger == lots, all summing to 0).
    assert (
        manage_shell(
            fresh_env, "from points.reconcile import reconcile; n, d, t = reconcile(); print(d == [] and t == 0)"
        )
        == "True"
    )

    # A second restore over the now filled database is refused without --yes, and done with it.
    refused = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "restore", archive], cwd=ROOT, env=fresh_env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "拒绝覆盖数据库" in refused.stderr and "--yes" in refused.stderr
    manage(fresh_env, "restore", archive, "--yes")
    assert json.loads(manage_shell(fresh_env, IDS)) == restored


# --- small databases of our own ------------------------------------------------------------------------


def _site(folder: Path, *, rows: int = 3) -> tuple[Path, Path]:
    """A database file in WAL mode with this code's migration record and a key table, and an uploads folder."""
    from django.db.migrations.loader import MigrationLoader

    folder.mkdir(parents=True, exist_ok=True)
    db, media = folder / "gongzhi.sqlite3", folder / "media"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT)")
    known = sorted(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)[:5]
    conn.executemany("INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, '')", known)
    conn.execute("CREATE TABLE sos_call (id INTEGER PRIMARY KEY, note TEXT)")
    conn.executemany("INSERT INTO sos_call (note) VALUES (?)", [(f"call {i}",) for i in range(rows)])
    conn.close()
    (media / "photos").mkdir(parents=True, exist_ok=True)
    return db, media


def _rewrite(archive: Path, out: Path, change) -> Path:
    """A copy of the archive with `change(name, data) -> data` applied to each file in it."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            if m.isfile():
                f = src.extractfile(m)
                assert f is not None
                data = change(m.name, f.read())
                m.size = len(data)
                import io

                dst.addfile(m, io.BytesIO(data))
            else:
                dst.addfile(m)
    return out


@pytest.fixture(autouse=True)
def _english():
    """The messages below are read in English; the child processes above speak zh-Hans, the default."""
    with translation.override("en"):
        yield


@pytest.fixture
def made(tmp_path) -> Path:
    db, media = _site(tmp_path / "site")
    (media / "photos" / "a.png").write_bytes(bytes(range(256)) * 40)
    return backup.backup_sqlite(db, media, tmp_path / "out").path


def test_a_round_trip_keeps_the_database_and_the_uploads_byte_for_byte(tmp_path, made):
    with tarfile.open(made) as tar:
        assert tar.getnames()[0] == "manifest.json"
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["counts"] == {"sos_call": 3}
    assert manifest["media"] == {"files": 1, "bytes": 10240}
    assert manifest["heads"] and manifest["migrations"]
    assert len(manifest["database"]["sha256"]) == 64
    assert oct(made.stat().st_mode & 0o777) == oct(0o600)  # personal data: readable by the owner only

    db, media = tmp_path / "new" / "gongzhi.sqlite3", tmp_path / "new" / "media"
    backup.restore_sqlite(made, db, media)
    assert (media / "photos" / "a.png").read_bytes() == bytes(range(256)) * 40
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT note FROM sos_call ORDER BY id").fetchall() == [("call 0",), ("call 1",), ("call 2",)]
    conn.close()
    assert not list(tmp_path.joinpath("new").glob(".*"))  # no temporary files left behind


def test_backup_check_reports_ok_through_the_command(made, capsys):
    call_command("backup_check", str(made))
    assert capsys.readouterr().out.startswith("OK: taken ")


def test_a_missing_archive(tmp_path):
    with pytest.raises(CommandError, match="No backup archive at"):
        backup.restore_sqlite(tmp_path / "nope.tar.gz", tmp_path / "db", tmp_path / "media")
    with pytest.raises(CommandError, match="No backup archive at"):
        call_command("backup_check", str(tmp_path / "nope.tar.gz"))


def test_a_corrupt_or_cut_short_archive(tmp_path, made):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(made.read_bytes()[: made.stat().st_size // 2])
    with pytest.raises(CommandError, match="not a readable backup archive"):
        backup.restore_sqlite(cut, tmp_path / "db", tmp_path / "media")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball at all")
    with pytest.raises(CommandError, match="not a readable backup archive"):
        backup.check_archive(junk)
    assert not (tmp_path / "db").exists()


def test_an_archive_without_a_manifest_is_not_a_backup(tmp_path):
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        tar.add(__file__, arcname="db.sqlite3")
    with pytest.raises(CommandError, match="not a Gongzhi backup"):
        backup.check_archive(other)


def test_a_checksum_mismatch(tmp_path, made):
    def flip(name: str, data: bytes) -> bytes:
        if name != "db.sqlite3":
            return data
        return data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:]

    bad = _rewrite(made, tmp_path / "bad.tar.gz", flip)
    with pytest.raises(CommandError, match="does not match its checksum"):
        backup.restore_sqlite(bad, tmp_path / "db", tmp_path / "media")
    assert not (tmp_path / "db").exists()


def test_an_archive_from_a_newer_schema(tmp_path, made):
    def newer(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        m = json.loads(data)
        m["migrations"]["core"] = [*m["migrations"].get("core", []), "9999_from_the_future"]
        return json.dumps(m).encode()

    bad = _rewrite(made, tmp_path / "newer.tar.gz", newer)
    with pytest.raises(CommandError, match=r"newer version of Gongzhi.*core\.9999_from_the_future"):
        backup.restore_sqlite(bad, tmp_path / "db", tmp_path / "media")


def test_an_entry_outside_the_archive_folder_is_refused(tmp_path, made):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(made) as src, tarfile.open(evil, "w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        info = tarfile.TarInfo("../escape")
        dst.addfile(info)
    with pytest.raises(CommandError, match="unexpected entry"):
        backup.check_archive(evil)
    assert not (tmp_path / "escape").exists()


def test_restoring_over_data_needs_yes_and_then_replaces_it(tmp_path, made):
    db, media = _site(tmp_path / "other", rows=7)
    (media / "photos" / "old.png").write_bytes(b"old")
    Path(f"{db}-wal").write_bytes(b"stale")  # an old log must not be replayed into the restored file
    with pytest.raises(CommandError, match=r"Refusing to overwrite the database .*--yes"):
        backup.restore_sqlite(made, db, media)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sos_call").fetchone() == (7,)  # untouched
    conn.close()

    backup.restore_sqlite(made, db, media, overwrite=True)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sos_call").fetchone() == (3,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert sorted(p.name for p in (media / "photos").iterdir()) == ["a.png"]


def test_no_restore_under_running_workers_even_with_yes(tmp_path, made, settings):
    """A worker that still beats would write into the replaced file (or the deleted log) and its writes, acknowledged,
    would be lost: stop everything first. One that stopped, or died long ago, does not hold the restore back."""
    from core import clock

    db, media = _site(tmp_path / "live", rows=7)
    now = clock.now().astimezone(dt.UTC).replace(tzinfo=None)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE core_workerbeat (name TEXT, last_beat TEXT, interval REAL, stopped_at TEXT)")
    rows = [
        ("run_sos", now - dt.timedelta(seconds=3), 5.0, None),  # beating
        ("run_outbox", now - dt.timedelta(seconds=4), 5.0, now.isoformat(" ")),  # said it stopped
        ("run_points", now - dt.timedelta(hours=2), 5.0, None),  # died long ago
    ]
    conn.executemany(
        "INSERT INTO core_workerbeat VALUES (?, ?, ?, ?)", [(n, b.isoformat(" "), i, s) for n, b, i, s in rows]
    )
    conn.commit()
    conn.close()
    with pytest.raises(CommandError, match=r"Workers are still running on .*\(run_sos\)"):
        backup.restore_sqlite(made, db, media, overwrite=True)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sos_call").fetchone() == (7,)  # untouched
    conn.execute("UPDATE core_workerbeat SET stopped_at = last_beat WHERE name = 'run_sos'")
    conn.commit()
    conn.close()
    backup.restore_sqlite(made, db, media, overwrite=True)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sos_call").fetchone() == (3,)
    conn.close()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL pass only")
@pytest.mark.django_db
def test_a_postgresql_dump_is_private_and_readable(tmp_path):
    """pg_dump gets the connection through libpq's environment (an argument would show the password to anyone on
    the machine), and the dump, holding every resident's numbers, is the owner's alone."""
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("the PostgreSQL client tools (pg_dump, pg_restore) are not installed")
    made = backup.backup_postgres(tmp_path / "out")
    assert made.path.suffix == ".dump" and made.path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o700
    pg_restore = shutil.which("pg_restore") or "pg_restore"
    listing = subprocess.run(  # noqa: S603 - the test's own dump
        [pg_restore, "--list", str(made.path)], capture_output=True, text=True, check=True
    )
    assert "workorders_workorder" in listing.stdout


def test_restoring_over_uploads_alone_needs_yes(tmp_path, made):
    media = tmp_path / "site2" / "media"
    media.mkdir(parents=True)
    (media / "keep.txt").write_text("x")
    with pytest.raises(CommandError, match="Refusing to overwrite the uploads"):
        backup.restore_sqlite(made, tmp_path / "site2" / "gongzhi.sqlite3", media)
    assert (media / "keep.txt").read_text() == "x"


def test_the_default_name_is_stamped_in_shanghai_time(tmp_path, settings):
    import datetime as dt

    from core import clock

    settings.VAR_DIR = tmp_path
    db, media = _site(tmp_path / "site")
    with clock.frozen(dt.datetime(2026, 3, 1, 16, 30, 5, tzinfo=dt.UTC)):
        made = backup.backup_sqlite(db, media)
    assert made.path == tmp_path / "backups" / "gongzhi-20260302-003005.tar.gz"
    assert made.manifest["created"] == "2026-03-02T00:30:05+08:00"


def test_the_commands_on_postgresql_point_to_pg_tools(monkeypatch):
    monkeypatch.setattr(backup, "is_sqlite", lambda: False)
    with pytest.raises(CommandError, match="pg_restore"):
        call_command("restore", "x.tar.gz")
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    with pytest.raises(CommandError, match="pg_dump -Fc"):
        call_command("backup")


def test_backup_check_needs_one_thing_to_check():
    with pytest.raises(CommandError, match="either an archive or --database-url"):
        call_command("backup_check")
