"""Backups and restores: one archive holding the SQLite database and the uploads, taken while the site serves.

SQLite (the default install)::

    manage.py backup [--output DIR_OR_FILE]    # → var/backups/gongzhi-YYYYmmdd-HHMMSS.tar.gz, its path printed
    manage.py backup_check ARCHIVE             # unpack in a temporary folder: checksum, integrity_check, counts
    manage.py restore ARCHIVE [--yes]          # with the server and workers stopped

`backup` copies the database with SQLite's online backup API (Python's `sqlite3.Connection.backup`, all
pages in one step, so one read transaction: a consistent snapshot of the committed data while the server
keeps writing — in WAL mode readers do not block writers), then packs it with MEDIA_ROOT (the uploads) and
`manifest.json` into one tar.gz, written under a temporary name and renamed, so a half-written archive never
carries the final name. The database is copied first and the uploads after it: a file is saved before the
row naming it commits, so every upload the copied rows name is in the archive (an upload of a request that
was still running may be there too, unnamed — harmless).

The manifest records when the backup was taken, the migrations applied per app (and the latest one of each),
row counts of the key tables, the sha256 and size of the database file and the number and size of the uploads.

`restore` checks the archive before it touches anything — manifest present, database checksum, no
migration this code does not know (an archive from a newer version: upgrade the code first) — and refuses
to replace a database that has tables, or uploads that are there, without `--yes`. It then replaces the
database file atomically (a copy beside it, renamed over it; the old -wal/-shm files removed first, since
SQLite would otherwise replay them into the restored file) and swaps the uploads folder. Stop the server
and the workers first: a process with the old file open keeps writing into it. If the archive is older than
the code, run `manage.py migrate` afterwards (restore says so).

`backup_check ARCHIVE` does everything restore checks, plus `PRAGMA integrity_check` on the unpacked
database and its row counts against the manifest, without touching the live site: run it on every backup
you rotate out to another machine.

PostgreSQL (DATABASE_URL=postgres://…): the documented tools do the work::

    pg_dump -Fc --no-owner -f gongzhi-$(date +%Y%m%d-%H%M%S).dump "$DATABASE_URL"   # online, consistent
    createdb gongzhi_check && pg_restore --no-owner -d gongzhi_check gongzhi-….dump
    manage.py backup_check --database-url postgres://…/gongzhi_check    # migrations known and applied, counts
    # restoring for real: stop the site, then pg_restore --clean --if-exists --no-owner -d "$DATABASE_URL" …

`manage.py backup` on PostgreSQL runs exactly that pg_dump when it is on PATH (and says so when it is not);
`restore` refuses and points to pg_restore. The uploads (MEDIA_ROOT) are not in a pg_dump: copy them
with `tar -czf` or rsync after the dump.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from core import clock

FORMAT = 1
MANIFEST = "manifest.json"
DB_MEMBER = "db.sqlite3"
MEDIA_MEMBER = "media"
# The tables whose row counts a backup records and a check compares: what losing would hurt most.
KEY_TABLES = (
    "accounts_user",
    "org_node",
    "org_resident",
    "workorders_workorder",
    "workorders_event",
    "points_entry",
    "sos_call",
    "sos_callevent",
)


# --- where the data is ---------------------------------------------------------------------------------


def is_sqlite() -> bool:
    return "sqlite" in str(settings.DATABASES["default"]["ENGINE"])


def sqlite_paths() -> tuple[Path, Path]:
    """The database file and the uploads folder of this site."""
    return Path(settings.DATABASES["default"]["NAME"]), Path(settings.MEDIA_ROOT)


def default_output() -> Path:
    return Path(settings.VAR_DIR) / "backups"


def stamped_name(suffix: str = ".tar.gz") -> str:
    local = timezone.localtime(clock.now(), clock.SHANGHAI)
    return f"gongzhi-{local:%Y%m%d-%H%M%S}{suffix}"


def _target(output: str | Path | None, suffix: str) -> Path:
    """A file named by the caller (a name ending in `suffix`), else a stamped name in the folder given (made
    if need be), or in var/backups/."""
    path = Path(output) if output else default_output()
    if path.is_dir() or not path.name.endswith(suffix):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)  # backups hold every resident's numbers
        return path / stamped_name(suffix)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


# --- reading a database file directly (no Django connection: it may be a copy in a temporary folder) ----


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=20, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=20000")
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def applied_migrations(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    if "django_migrations" not in _tables(conn):
        return []
    return [(a, n) for a, n in conn.execute("SELECT app, name FROM django_migrations ORDER BY id")]


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    present = _tables(conn)
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in KEY_TABLES if t in present}  # noqa: S608 - names from KEY_TABLES


def migrations_summary(applied: list[tuple[str, str]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Applied migrations per app, and the latest applied one of each app (its head)."""
    by_app: dict[str, list[str]] = {}
    for app, name in applied:
        by_app.setdefault(app, []).append(name)
    return {a: sorted(ns) for a, ns in sorted(by_app.items())}, {a: ns[-1] for a, ns in sorted(by_app.items())}


def unknown_migrations(migrations: dict[str, list[str]]) -> list[str]:
    """Migrations recorded in a backup that this code does not have: the backup is from a newer version."""
    from django.db.migrations.loader import MigrationLoader

    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return sorted(f"{app}.{name}" for app, names in migrations.items() for name in names if (app, name) not in on_disk)


def missing_migrations(migrations: dict[str, list[str]]) -> list[str]:
    """Migrations of this code that the backup has not applied (an older backup: migrate after restoring)."""
    from django.db.migrations.loader import MigrationLoader

    have = {(a, n) for a, ns in migrations.items() for n in ns}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    replaced = {r for m in loader.disk_migrations.values() for r in (m.replaces or [])}
    return sorted(
        f"{a}.{n}"
        for (a, n), m in loader.disk_migrations.items()
        if (a, n) not in have and (a, n) not in replaced and not (m.replaces and set(m.replaces) <= have)
    )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _media_files(media: Path) -> list[Path]:
    if not media.is_dir():
        return []
    return sorted(p for p in media.rglob("*") if p.is_file() and not p.is_symlink())


# --- backup -------------------------------------------------------------------------------------------


@dataclass
class Made:
    path: Path
    manifest: dict[str, Any]
    seconds: float = 0.0


def backup_sqlite(db_path: Path, media_root: Path, output: str | Path | None = None) -> Made:
    """An online, consistent copy of `db_path` and the files under `media_root`, packed into one tar.gz."""
    started = time.monotonic()
    if not db_path.is_file():
        raise CommandError(_("There is no database file at %(path)s.") % {"path": db_path})
    target = _target(output, ".tar.gz")
    with tempfile.TemporaryDirectory(prefix=".gongzhi-backup-", dir=target.parent) as tmp:
        copy = Path(tmp) / DB_MEMBER
        src = _connect(db_path)
        dst = sqlite3.connect(str(copy))
        try:
            # pages=-1 (the default): every page in one step, under one read transaction — a snapshot of the
            # committed data, however many transactions the server commits meanwhile (WAL: it is not blocked).
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        # The copy is in rollback-journal mode as a plain file; checks and restores read it as it is.
        conn = _connect(copy)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            migrations, heads = migrations_summary(applied_migrations(conn))
            counts = row_counts(conn)
        finally:
            conn.close()
        files = _media_files(media_root)  # after the database: every upload its rows name is here
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "engine": "sqlite",
            "created": timezone.localtime(clock.now(), clock.SHANGHAI).isoformat(timespec="seconds"),
            "database": {"file": DB_MEMBER, "sha256": sha256(copy), "bytes": copy.stat().st_size},
            "heads": heads,
            "migrations": migrations,
            "counts": counts,
            "media": {"files": len(files), "bytes": sum(p.stat().st_size for p in files)},
        }
        partial = target.with_name(f".{target.name}.partial")
        try:
            with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
                data = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
                tar.addfile(info, io.BytesIO(data))  # first, so that a reader finds it without unpacking all
                tar.add(copy, arcname=DB_MEMBER, recursive=False)
                info = tarfile.TarInfo(MEDIA_MEMBER)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                tar.addfile(info)
                for p in files:
                    try:
                        tar.add(p, arcname=f"{MEDIA_MEMBER}/{p.relative_to(media_root).as_posix()}", recursive=False)
                    except FileNotFoundError:  # deleted while we packed: it was not needed by the copied rows
                        manifest["media"]["files"] -= 1
            os.chmod(partial, 0o600)  # personal data: the owner (the site's user) reads it, nobody else
            with open(partial, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return Made(target, manifest, time.monotonic() - started)


def backup_postgres(output: str | Path | None = None) -> Made:
    """`pg_dump -Fc` of DATABASE_URL into a file (the uploads are not in it)."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise CommandError(
            _(
                "This site runs on PostgreSQL and pg_dump is not on PATH. Back it up with "
                'pg_dump -Fc --no-owner -f gongzhi.dump "$DATABASE_URL" (the PostgreSQL client tools), '
                "and copy MEDIA_ROOT (%(media)s) beside it."
            )
            % {"media": settings.MEDIA_ROOT}
        )
    started = time.monotonic()
    target = _target(output, ".dump")
    partial = target.with_name(f".{target.name}.partial")
    # The connection goes through libpq's environment, not the command line: anyone on the machine may read a
    # process's arguments (/proc/*/cmdline), and the URL carries the password.
    db = settings.DATABASES["default"]
    libpq = {
        "PGHOST": str(db.get("HOST") or ""), "PGPORT": str(db.get("PORT") or ""), "PGUSER": str(db.get("USER") or ""),
        "PGPASSWORD": str(db.get("PASSWORD") or ""), "PGDATABASE": str(db.get("NAME") or ""),
    }  # fmt: skip
    env = {**os.environ, **{k: v for k, v in libpq.items() if v}}
    env.pop("DATABASE_URL", None)
    try:
        partial.touch(mode=0o600)
        done = subprocess.run(  # noqa: S603 - pg_dump from PATH, arguments ours
            [pg_dump, "-Fc", "--no-owner", "-f", str(partial)], capture_output=True, text=True, check=False, env=env
        )
        if done.returncode != 0:
            raise CommandError(_("pg_dump failed: %(error)s") % {"error": done.stderr.strip()})
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Made(target, {"engine": "postgresql"}, time.monotonic() - started)


# --- reading an archive ---------------------------------------------------------------------------------


@dataclass
class Unpacked:
    folder: Path
    manifest: dict[str, Any]
    db: Path
    media: Path
    notes: list[str] = field(default_factory=list)


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
            raise CommandError(_("The archive holds an unexpected entry: %(name)s.") % {"name": m.name})
        if m.name not in (MANIFEST, DB_MEMBER, MEDIA_MEMBER) and not m.name.startswith(f"{MEDIA_MEMBER}/"):
            raise CommandError(_("The archive holds an unexpected entry: %(name)s.") % {"name": m.name})
        members.append(m)
    return members


def unpack(archive: str | Path, into: Path) -> Unpacked:
    """Unpack and verify an archive made by `backup_sqlite` into the folder `into` (which should be empty).

    Raises CommandError for a missing file, a file that is not such an archive, a checksum that does not
    match, or migrations this code does not know."""
    path = Path(archive)
    if not path.is_file():
        raise CommandError(_("No backup archive at %(path)s.") % {"path": path})
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = _safe_members(tar)
            names = {m.name for m in members}
            if MANIFEST not in names or DB_MEMBER not in names:
                raise CommandError(
                    _("%(path)s is not a Gongzhi backup: it has no manifest or no database.") % {"path": path}
                )
            for m in members:
                m.mode = (m.mode or 0) & 0o755 | (0o600 if m.isfile() else 0o700)
                tar.extract(m, into, set_attrs=False)
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as e:
        raise CommandError(
            _("%(path)s is not a readable backup archive (damaged or cut short): %(error)s")
            % {"path": path, "error": e}
        ) from e
    try:
        manifest = json.loads((into / MANIFEST).read_text())
        db_meta = manifest["database"]
        expected = db_meta["sha256"]
    except (ValueError, KeyError, TypeError) as e:
        raise CommandError(_("The manifest of %(path)s is unreadable.") % {"path": path}) from e
    if manifest.get("format") != FORMAT or manifest.get("engine") != "sqlite":
        raise CommandError(
            _("%(path)s is a backup of a format this version cannot read (format %(format)s).")
            % {"path": path, "format": manifest.get("format")}
        )
    db = into / DB_MEMBER
    actual = sha256(db)
    if actual != expected:
        raise CommandError(
            _("The database in %(path)s does not match its checksum (expected %(expected)s, found %(actual)s).")
            % {"path": path, "expected": expected, "actual": actual}
        )
    unknown = unknown_migrations(manifest.get("migrations") or {})
    if unknown:
        raise CommandError(
            _(
                "%(path)s comes from a newer version of Gongzhi: it has migrations this code does not know "
                "(%(names)s). Install that version (or a later one) first."
            )
            % {"path": path, "names": ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")}
        )
    media = into / MEDIA_MEMBER
    media.mkdir(exist_ok=True)
    unpacked = Unpacked(into, manifest, db, media)
    missing = missing_migrations(manifest.get("migrations") or {})
    if missing:
        unpacked.notes.append(
            _("The backup predates %(n)s migration(s) of this code: run `manage.py migrate` after restoring.")
            % {"n": len(missing)}
        )
    return unpacked


def check_unpacked(u: Unpacked) -> list[str]:
    """Problems found in an unpacked archive (an empty list: it is sound)."""
    problems = []
    conn = _connect(u.db)
    try:
        result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            problems.append(_("integrity_check: %(result)s") % {"result": "; ".join(result[:5])})
        counts = row_counts(conn)
    finally:
        conn.close()
    for table, n in (u.manifest.get("counts") or {}).items():
        if counts.get(table) != n:
            problems.append(
                _("%(table)s has %(found)s rows, the manifest says %(expected)s.")
                % {"table": table, "found": counts.get(table), "expected": n}
            )
    files = len(_media_files(u.media))
    expected_files = (u.manifest.get("media") or {}).get("files", 0)
    if files != expected_files:
        problems.append(
            _("%(found)s uploaded files in the archive, the manifest says %(expected)s.")
            % {"found": files, "expected": expected_files}
        )
    return problems


def check_archive(archive: str | Path) -> tuple[dict[str, Any], list[str], list[str]]:
    """(manifest, problems, notes) of an archive, unpacked in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="gongzhi-check-") as tmp:
        u = unpack(archive, Path(tmp))
        return u.manifest, check_unpacked(u), u.notes


# --- restore ------------------------------------------------------------------------------------------


def _database_in_use(db_path: Path) -> bool:
    """Whether the database file holds any table (an empty or absent file may be replaced without asking)."""
    if not db_path.is_file() or db_path.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=20)
        try:
            return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True  # something is there that is not a database we can read: do not overwrite it unasked


def restore_sqlite(archive: str | Path, db_path: Path, media_root: Path, *, overwrite: bool = False) -> Unpacked:
    """Replace the database file and the uploads folder with those of the archive (verified first)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gongzhi-restore-", dir=db_path.parent) as tmp:
        u = unpack(archive, Path(tmp))
        problems = check_unpacked(u)
        if problems:
            raise CommandError(_("The backup fails its check: %(problems)s") % {"problems": " ".join(problems)})
        if not overwrite:
            if _database_in_use(db_path):
                raise CommandError(
                    _(
                        "Refusing to overwrite the database %(path)s: it already holds data. Stop the server and "
                        "the workers, then run restore again with --yes to replace it."
                    )
                    % {"path": db_path}
                )
            if _media_files(media_root):
                raise CommandError(
                    _("Refusing to overwrite the uploads in %(path)s. Run restore again with --yes to replace them.")
                    % {"path": media_root}
                )
        if db_path.is_file():
            # Fold the old write-ahead log into the old file so no stale -wal/-shm can outlive it.
            try:
                conn = _connect(db_path)
                try:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    conn.close()
            except sqlite3.DatabaseError:
                pass
        running = running_workers(db_path)
        if running:
            raise CommandError(
                _(
                    "Workers are still running on %(path)s (%(names)s): stop the server and every worker first "
                    "(systemctl stop gongzhi.target), then restore."
                )
                % {"path": db_path, "names": ", ".join(running)}
            )
        with open(u.db, "rb+") as f:
            os.fsync(f.fileno())
        # The uploads first: moving a folder is what may fail (another file system, a full disk), and then the
        # old database still stands beside the old uploads. Replacing the database file is one rename.
        _swap_media(u.media, media_root)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        os.replace(u.db, db_path)  # same folder, same file system: atomic
        return u


def running_workers(db_path: Path) -> list[str]:
    """The workers whose heartbeat in this database is fresh (core.health's "ok" or "late": not stopped, not
    older than WORKER_DEAD_AFTER intervals): a restore under them would lose what they write next."""
    if not db_path.is_file():
        return []
    try:
        conn = _connect(db_path)
        try:
            if "core_workerbeat" not in _tables(conn):
                return []
            rows = conn.execute(
                "SELECT name, last_beat, interval FROM core_workerbeat WHERE stopped_at IS NULL"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return []
    now = clock.now()
    running = []
    for name, last_beat, interval in rows:
        beat = dt.datetime.fromisoformat(str(last_beat))
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=dt.UTC)
        if (now - beat).total_seconds() <= settings.WORKER_DEAD_AFTER * float(interval):
            running.append(str(name))
    return sorted(running)


def _swap_media(new: Path, media_root: Path) -> None:
    media_root.parent.mkdir(parents=True, exist_ok=True)
    staged = media_root.with_name(f".{media_root.name}.restoring")
    old = media_root.with_name(f".{media_root.name}.old")
    for p in (staged, old):
        if p.exists():
            shutil.rmtree(p)
    shutil.move(str(new), str(staged))  # onto the uploads' file system first, so the renames below are atomic
    if media_root.exists():
        os.replace(media_root, old)
    os.replace(staged, media_root)
    if old.exists():
        shutil.rmtree(old)


# --- PostgreSQL check ---------------------------------------------------------------------------------


def check_postgres(url: str) -> tuple[dict[str, list[str]], dict[str, int], list[str], list[str]]:
    """(migrations, counts, unknown, missing) of a PostgreSQL database, e.g. a scratch one pg_restore filled."""
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
        row = cur.fetchone()
        applied: list[tuple[str, str]] = []
        if row and row[0]:
            cur.execute("SELECT app, name FROM django_migrations ORDER BY id")
            applied = [(a, n) for a, n in cur.fetchall()]
        counts: dict[str, int] = {}
        for table in KEY_TABLES:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
            exists = cur.fetchone()
            if exists and exists[0]:
                cur.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - names from KEY_TABLES
                n = cur.fetchone()
                counts[table] = int(n[0]) if n else 0
    migrations, _heads = migrations_summary(applied)
    return migrations, counts, unknown_migrations(migrations), missing_migrations(migrations)


def describe(manifest: dict[str, Any]) -> str:
    counts = ", ".join(f"{t} {n}" for t, n in (manifest.get("counts") or {}).items())
    media = manifest.get("media") or {}
    return _("taken %(created)s; %(counts)s; %(files)s uploaded files") % {
        "created": manifest.get("created", "?"),
        "counts": counts,
        "files": media.get("files", 0),
    }
