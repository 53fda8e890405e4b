"""An operator backs the district up every night and proves, by a drill, that the backup restores:
every table's rows come back, the ledger rebuilds with 0 differences, the newest postings are there.
Runs on the configured database: PostgreSQL by default, SQLite with CANTEEN_DATABASE_URL=sqlite:///…"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from canteen.core.money import Money
from canteen.ledger import services as ledger
from canteen.ledger.choices import Channel
from canteen.ledger.models import Posting
from canteen.ops.backup import backup_create, backup_restore, latest_backup, restore_drill

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(world):
    """A campus where two pupils were topped up and ate lunch."""
    admin = world.user("school_admin")
    for i, student in enumerate(world.students[:2]):
        ledger.top_up(
            student=student, amount=Money(5000), channel=Channel.CASH, idempotency_key=f"bk-top-{i}", actor=admin
        )
        ledger.meal_charge(
            student=student, amount=Money(1200), idempotency_key=f"bk-meal-{i}", campus=student.campus_id
        )
    return world


def _drop(name: str) -> None:
    """Lose the database: PostgreSQL drops it; SQLite deletes the file."""
    db = connection.settings_dict
    if "sqlite" in db["ENGINE"]:
        Path(name).unlink(missing_ok=True)
    else:
        from canteen.ops.backup import _pg_connect

        with _pg_connect(db, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_then_drop_then_restore_passes_the_drill(books, tmp_path):
    backup = backup_create(directory=tmp_path / "backups", keep=3, copy_to=tmp_path / "offsite")
    manifest = json.loads(Path(f"{backup.path}.json").read_text())
    assert manifest["tables"]["ledger_posting"] == Posting.objects.count() >= 4
    newest = Posting.objects.order_by("-created_at").first()
    assert newest.pk.hex in manifest["latest_postings"]
    assert (tmp_path / "offsite" / backup.path.name).read_bytes() == backup.path.read_bytes()

    # The district loses the database; the backup is restored into a new one and drilled there.
    target = str(tmp_path / "restored.sqlite3") if connection.vendor == "sqlite" else "test_canteen_i26_restored"
    _drop(target)
    assert backup_restore(path=backup.path, database=target) == target
    _drop(target)  # drop again: the drill recreates its own scratch database from the newest backup

    report = restore_drill(path=latest_backup(tmp_path / "backups"))
    assert report.problems == []
    assert report.count_mismatches == {}
    assert report.balance_differences == 0
    assert report.missing_postings == []
    assert report.tables == len(manifest["tables"])
    assert report.rows == sum(manifest["tables"].values())
    assert report.ok


def test_the_drill_notices_a_backup_that_lost_rows(books, tmp_path):
    backup = backup_create(directory=tmp_path, keep=2)
    manifest_path = Path(f"{backup.path}.json")
    manifest = json.loads(manifest_path.read_text())
    # The manifest says more postings existed than the backup holds: the drill must fail loudly.
    manifest["tables"]["ledger_posting"] += 1
    manifest["latest_postings"].append("0" * 32)
    manifest_path.write_text(json.dumps(manifest))
    report = restore_drill(path=backup.path)
    assert not report.ok
    assert report.count_mismatches["ledger_posting"][0] == report.count_mismatches["ledger_posting"][1] + 1
    assert report.missing_postings == ["0" * 32]
    with pytest.raises(CommandError, match="restore drill FAILED"):
        call_command("restore_drill", str(backup.path))


def test_retention_keeps_the_newest_backups_in_both_places(books, tmp_path):
    made = [backup_create(directory=tmp_path / "b", keep=2, copy_to=tmp_path / "c").path.name for _ in range(3)]
    for place in ("b", "c"):
        kept = sorted(p.name for p in (tmp_path / place).glob("canteen-*") if not p.name.endswith(".json"))
        assert kept == made[1:]
        assert sorted(p.name for p in (tmp_path / place).glob("*.json")) == [f"{n}.json" for n in made[1:]]


def test_restore_refuses_to_replace_the_live_database_without_yes(books, tmp_path):
    backup_create(directory=tmp_path, keep=1)
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore")


def test_a_backup_of_the_wrong_kind_is_refused(books, tmp_path):
    from canteen.ops.backup import BackupError

    if connection.vendor == "sqlite":
        wrong = tmp_path / "canteen-20260101T000000000000Z.dump"
        wrong.write_bytes(b"PGDMP")
    else:
        wrong = tmp_path / "canteen-20260101T000000000000Z.sqlite3"
        sqlite3.connect(wrong).close()
    with pytest.raises(BackupError, match="not a backup of this kind"):
        backup_restore(path=wrong, database=str(tmp_path / "x.sqlite3"))
