"""The `grassroots` command and settings read from the environment, in a real subprocess."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def grassroots(
    tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = shutil.which("grassroots", path=str(Path(sys.executable).parent))
    base = [command] if command else [sys.executable, "-m", "grassroots"]
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")
    }
    environment.update(
        {"VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT / "src"), "LANGUAGE_CODE": "en"},
        **(env or {}),
    )
    return subprocess.run(
        [*base, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=120
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    result = grassroots(tmp, "migrate", "--verbosity", "0")
    assert result.returncode == 0, result.stderr
    return tmp


def test_it_generates_a_secret_key_and_uses_sqlite_in_wal_mode(migrated):
    key = (migrated / "var" / "secret_key").read_text()
    assert len(key) >= 50
    assert oct((migrated / "var" / "secret_key").stat().st_mode)[-3:] == "600"
    db = sqlite3.connect(migrated / "var" / "grassroots.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_it_exits_1_and_names_rows_from_the_real_command_line(migrated):
    units = migrated / "units.csv"
    units.write_text("code,name\n350426,尤溪县\n350426100,城关镇\n350426100001,水东社区\n")
    assert grassroots(migrated, "import", "units", str(units)).returncode == 0
    households = migrated / "h.csv"
    households.write_text("户编号,地址,网格编码\nH1,,\n", encoding="utf-8")
    result = grassroots(migrated, "import", "households", str(households))
    assert result.returncode == 1
    assert result.stdout.strip() == "row 2: 地址: address is empty"
    assert "nothing was written" in result.stderr


def test_it_reads_the_password_from_stdin(migrated):
    units = migrated / "units2.csv"
    units.write_text("code,name\n350426,尤溪县\n")
    grassroots(migrated, "import", "units", str(units))
    result = grassroots(
        migrated,
        "users",
        "add",
        "clerk",
        "--role",
        "auditor",
        "--scope",
        "350426",
        stdin="a-Long-enough-pass-42\n",
    )
    assert result.returncode == 0, result.stderr
    assert "password:" not in result.stdout
    check = grassroots(
        migrated,
        "shell",
        "-c",
        "from grassroots.accounts.models import User; print(User.objects.get(username='clerk').check_password('a-Long-enough-pass-42'))",
    )
    assert check.stdout.strip().splitlines()[-1] == "True"
    token = grassroots(migrated, "users", "token", "clerk")
    assert token.returncode == 0 and token.stdout.strip().splitlines()[-1].startswith("gr_")


def test_it_refuses_a_weak_password(migrated):
    result = grassroots(
        migrated, "users", "add", "weak", "--role", "auditor", "--scope", "350426", stdin="123\n"
    )
    assert result.returncode != 0
    assert "password:" in result.stderr and "too short" in result.stderr


def test_it_takes_the_secret_key_and_debug_from_the_environment(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY, settings.DEBUG, settings.ALLOWED_HOSTS)"
    result = grassroots(
        tmp_path,
        "shell",
        "-c",
        code,
        env={"SECRET_KEY": "k" * 60, "DEBUG": "true", "ALLOWED_HOSTS": "a.example, b.example"},
    )
    assert result.stdout.strip().splitlines()[-1] == f"{'k' * 60} True ['a.example', 'b.example']"
    assert not (tmp_path / "var" / "secret_key").exists()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CASE_PHOTO_MAX_BYTES", "ten", "CASE_PHOTO_MAX_BYTES='ten' is not a whole number"),
        ("NOTIFICATION_MAX_ATTEMPTS", "0", "NOTIFICATION_MAX_ATTEMPTS='0' must be at least 1"),
        ("NOTIFICATION_WEBHOOK_TIMEOUT", "soon", "NOTIFICATION_WEBHOOK_TIMEOUT='soon' is not a"),
    ],
)
def test_it_names_a_bad_number_in_the_environment(tmp_path, name, value, message):
    result = grassroots(tmp_path, "check", env={name: value})
    assert result.returncode != 0
    assert message in result.stderr
