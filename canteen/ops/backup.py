"""Backups, restores and the restore drill.

PostgreSQL: `pg_dump -Fc` taken inside an exported snapshot, so the row counts written beside the
dump (the manifest) describe exactly what the dump holds. SQLite (the demo): the online backup API.
The drill restores the newest backup into a scratch database and checks it in a separate process
whose default database is the scratch one (`canteen drill_check`): every table's row count equals
the manifest's, the ledger's cached balances rebuild from its entries with 0 differences, and the
newest postings at backup time are present.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

LATEST_POSTINGS = 20
_SUFFIXES = (".dump", ".sqlite3")


class BackupError(Exception):
    pass


@dataclass
class Backup:
    path: Path
    manifest: dict
    copies: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


@dataclass
class DrillReport:
    backup: Path
    scratch: str
    tables: int = 0
    rows: int = 0
    count_mismatches: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    balance_differences: int = 0
    missing_postings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.count_mismatches or self.balance_differences or self.missing_postings or self.problems)


def _db() -> dict:
    return settings.DATABASES["default"]


def _is_sqlite(db: dict | None = None) -> bool:
    return "sqlite" in (db or _db())["ENGINE"]


def backup_dir() -> Path:
    return Path(getattr(settings, "CANTEEN_BACKUP_DIR", "") or Path(settings.DATA_DIR) / "backups")


def _pg_env(db: dict) -> dict[str, str]:
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def _pg_args(db: dict) -> list[str]:
    return ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres"]


def _pg_connect(db: dict, dbname: str | None = None, **kwargs):
    import psycopg

    return psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=str(db.get("PORT") or 5432),
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname=dbname or db["NAME"],
        **kwargs,
    )


def _posting_table() -> str:
    from canteen.ledger.models import Posting

    return Posting._meta.db_table


def _count_tables(cursor, tables: list[str], quote_name) -> dict[str, int]:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote_name(table)}")  # noqa: S608 - names from the catalogue
        counts[table] = cursor.fetchone()[0]
    return counts


def _latest_postings(cursor, quote_name) -> list[str]:
    table = quote_name(_posting_table())
    cursor.execute(f"SELECT id FROM {table} ORDER BY created_at DESC, id DESC LIMIT {LATEST_POSTINGS}")  # noqa: S608
    return [str(row[0]).replace("-", "") for row in cursor.fetchall()]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _backup_postgres(db: dict, target: Path) -> dict:
    from psycopg import IsolationLevel

    with _pg_connect(db) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
            # Partitions are counted through their parent table, as Django's introspection lists them.
            cur.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            )
            tables = [row[0] for row in cur.fetchall()]
            counts = _count_tables(cur, tables, _pg_quote)
            latest = _latest_postings(cur, _pg_quote)
            # The dump sees the same snapshot as the counts while this transaction stays open.
            argv = ["pg_dump", "-Fc", "--no-owner", "--snapshot", snapshot, "-f", str(target), *_pg_args(db)]
            done = subprocess.run([*argv, db["NAME"]], env=_pg_env(db), capture_output=True, text=True)  # noqa: S603
            if done.returncode:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        conn.rollback()
    return {"engine": "postgresql", "database": db["NAME"], "tables": counts, "latest_postings": latest}


def _sqlite_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _backup_sqlite(db: dict, target: Path) -> dict:
    from django.db import connection

    # Through Django's own connection: its database may be a shared in-memory one (tests).
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
    finally:
        copy.close()
    # Counted in the copy: the backup API copies one consistent state of the whole file.
    copy = sqlite3.connect(target)
    try:
        cur = copy.cursor()
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        tables = [row[0] for row in cur.fetchall()]
        counts = _count_tables(cur, tables, _sqlite_quote)
        latest = _latest_postings(cur, _sqlite_quote)
    finally:
        copy.close()
    return {"engine": "sqlite", "database": str(db["NAME"]), "tables": counts, "latest_postings": latest}


def _prune(directory: Path, keep: int) -> list[Path]:
    backups = sorted(p for p in directory.glob("canteen-*") if p.suffix in _SUFFIXES)
    removed = []
    for old in backups[: max(len(backups) - keep, 0)]:
        old.unlink(missing_ok=True)
        Path(f"{old}.json").unlink(missing_ok=True)
        removed.append(old)
    return removed


def backup_create(*, directory: Path | None = None, keep: int | None = None, copy_to: Path | None = None) -> Backup:
    """Back the default database up into `directory`, keep the newest `keep` backups there (and in
    `copy_to`, the second location, when given)."""
    db = _db()
    directory = Path(directory or backup_dir())
    keep = int(keep if keep is not None else getattr(settings, "CANTEEN_BACKUP_KEEP", 14))
    if keep < 1:
        raise BackupError("keep must be at least 1")
    copy_setting = getattr(settings, "CANTEEN_BACKUP_COPY_DIR", "")
    copy_to = Path(copy_to) if copy_to else (Path(copy_setting) if copy_setting else None)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"canteen-{_stamp()}{'.sqlite3' if _is_sqlite(db) else '.dump'}"
    final = directory / name
    partial = directory / f".{name}.partial"
    try:
        manifest = _backup_sqlite(db, partial) if _is_sqlite(db) else _backup_postgres(db, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    manifest |= {"file": name, "created_at": datetime.now(UTC).isoformat(), "bytes": partial.stat().st_size}
    # The manifest first, then the rename: a backup file never lies there without its manifest.
    Path(f"{final}.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    partial.rename(final)
    result = Backup(final, manifest)
    if copy_to is not None:
        copy_to.mkdir(parents=True, exist_ok=True)
        partial_copy = copy_to / f".{name}.partial"
        shutil.copy2(final, partial_copy)
        shutil.copy2(f"{final}.json", copy_to / f"{name}.json")
        partial_copy.rename(copy_to / name)
        result.copies.append(copy_to / name)
        result.removed += _prune(copy_to, keep)
    result.removed += _prune(directory, keep)
    return result


def latest_backup(directory: Path | None = None) -> Path:
    directory = Path(directory or backup_dir())
    backups = sorted(p for p in directory.glob("canteen-*") if p.suffix in _SUFFIXES and Path(f"{p}.json").exists())
    if not backups:
        raise BackupError(f"no backup in {directory}")
    return backups[-1]


def restore_postgres(*, path: Path, database: str) -> None:
    """Drop `database` (disconnecting its sessions), create it anew and restore `path` into it."""
    db = _db()
    with _pg_connect(db, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {_pg_quote(database)} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {_pg_quote(database)}")
    argv = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", *_pg_args(db), "-d", database, str(path)]
    done = subprocess.run(argv, env=_pg_env(db), capture_output=True, text=True)  # noqa: S603
    if done.returncode:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def restore_sqlite(*, path: Path, database: Path) -> None:
    """Copy the backup into `database` through the online backup API (its WAL is replaced too)."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(database)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def backup_restore(*, path: Path, database: str | None = None) -> str:
    """Restore a backup into `database` (default: the configured one). Returns the target's name."""
    db = _db()
    path = Path(path)
    if not path.exists():
        raise BackupError(f"{path}: no such backup")
    if _is_sqlite(db) != (path.suffix == ".sqlite3"):
        raise BackupError(f"{path.name} is not a backup of this kind of database ({db['ENGINE']})")
    target = database or str(db["NAME"])
    if _is_sqlite(db):
        restore_sqlite(path=path, database=Path(target))
    else:
        restore_postgres(path=path, database=target)
    return target


def _database_url(db: dict, name: str) -> str:
    if _is_sqlite(db):
        return f"sqlite:///{name}" if name.startswith("/") else f"sqlite:////{Path(name).resolve()}"
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = quote(db.get("HOST") or "127.0.0.1", safe="")
    return f"postgres://{user}{password}@{host}:{db.get('PORT') or 5432}/{quote(name, safe='')}"


def drill_check(manifest: dict) -> dict:
    """Run inside the process whose default database is the restored one."""
    from django.db import connection

    from canteen.ledger.models import Posting
    from canteen.ledger.services import balances_rebuild

    with connection.cursor() as cur:
        tables = connection.introspection.table_names(cur)
        counts = _count_tables(cur, tables, connection.ops.quote_name)
    expected: dict[str, int] = manifest["tables"]
    mismatches = {
        name: (want, counts.get(name)) for name, want in expected.items() if counts.get(name) != want
    }  # fmt: skip
    mismatches |= {name: (None, got) for name, got in counts.items() if name not in expected}
    present = {p.hex for p in Posting.objects.filter(pk__in=manifest["latest_postings"]).values_list("pk", flat=True)}
    return {
        "tables": len(counts),
        "rows": sum(counts.values()),
        "count_mismatches": mismatches,
        "balance_differences": len(balances_rebuild(fix=False)),
        "missing_postings": [p for p in manifest["latest_postings"] if p not in present],
    }


def restore_drill(*, path: Path | None = None, keep_scratch: bool = False) -> DrillReport:
    """Restore the newest backup (or `path`) into a scratch database and check it there."""
    db = _db()
    path = Path(path) if path else latest_backup()
    if not Path(f"{path}.json").exists():
        raise BackupError(f"{path}: its manifest {path.name}.json is missing")
    if _is_sqlite(db):
        scratch_dir = Path(tempfile.mkdtemp(prefix="canteen-drill-"))
        scratch = str(scratch_dir / "drill.sqlite3")
    else:
        scratch = f"{db['NAME']}_drill"
    report = DrillReport(backup=path, scratch=scratch)
    try:
        backup_restore(path=path, database=scratch)
        env = {**os.environ, "CANTEEN_DATABASE_URL": _database_url(db, scratch)}
        env.setdefault("DJANGO_SETTINGS_MODULE", os.environ.get("DJANGO_SETTINGS_MODULE", "canteen.settings.local"))
        done = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "canteen.cli", "drill_check", f"{path}.json"],
            env=env,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        if done.returncode:
            report.problems.append(f"drill_check failed: {done.stderr.strip()[-2000:]}")
            return report
        found = json.loads(done.stdout.strip().splitlines()[-1])
        report.tables, report.rows = found["tables"], found["rows"]
        report.count_mismatches = {k: tuple(v) for k, v in found["count_mismatches"].items()}
        report.balance_differences = found["balance_differences"]
        report.missing_postings = found["missing_postings"]
        if report.tables == 0:
            report.problems.append("the restored database has no tables")
    finally:
        if not keep_scratch:
            if _is_sqlite(db):
                shutil.rmtree(Path(scratch).parent, ignore_errors=True)
            else:
                with _pg_connect(db, dbname="postgres", autocommit=True) as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {_pg_quote(scratch)} WITH (FORCE)")
    return report
