"""Web hardening: security headers on every page, cookies, and a clean deploy check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_sends_security_headers_on_pages_and_the_api(client, world):
    client.force_login(world.users["secretary"])
    for path in ("/", "/admin/", "/audit/coverage/", "/admin/login/", "/api/v1/me"):
        response = client.get(path)
        assert response["X-Frame-Options"] == "DENY", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert (
            "script-src 'self'" in policy
            and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        )


def test_it_keeps_cookies_away_from_scripts(client, world):
    response = client.get("/admin/login/")
    csrf = response.cookies["csrftoken"]
    assert csrf["httponly"] is True
    client.post("/admin/login/", {"username": "secretary", "password": "pw-secretary-Long1!"})
    assert client.cookies["sessionid"]["httponly"] is True


def test_it_passes_the_deploy_check_with_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG")}
    env.update(
        {
            "VAR_DIR": str(tmp_path),
            "PYTHONPATH": str(ROOT / "src"),
            "SECRET_KEY": "x7!Qz" * 12,
            "HTTPS": "1",
            "ALLOWED_HOSTS": "grid.example.gov.cn",
            "LANGUAGE_CODE": "en",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "grassroots", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
