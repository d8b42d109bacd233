"""The fake exchange run standalone (``python -m tests.fake_binance``), as CI's Inspector check does."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from secrets import token_hex
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 20.0
EXIT_TIMEOUT_S = 10.0


def _wait_for_ready(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not path.exists():
        assert proc.poll() is None, "the fake exited before it was ready"
        assert time.monotonic() < deadline, "the fake did not write its ready file in time"
        time.sleep(0.02)
    return json.loads(path.read_text())


def test_standalone_fake_registers_hmac_accounts_and_reports_its_url(tmp_path):
    from_file = (token_hex(32), token_hex(32))
    inline = (token_hex(32), token_hex(32))
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# throwaway\n{from_file[0]}:{from_file[1]}\n")
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_binance", "--hmac-accounts-file", str(keys_file),
         "--hmac-account", f"{inline[0]}:{inline[1]}", "--ready-file", str(ready)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        info = _wait_for_ready(ready, proc)
        assert info["base_url"] == f"http://127.0.0.1:{info['port']}" and info["pid"] == proc.pid
        with httpx.Client(base_url=str(info["base_url"]), timeout=5.0) as client:
            for api_key, secret in (from_file, inline):
                query = urlencode({"omitZeroBalances": "true", "timestamp": int(time.time() * 1000)})
                signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
                reply = client.get(f"/api/v3/account?{query}&signature={signature}", headers={"X-MBX-APIKEY": api_key})
                assert reply.status_code == 200, reply.text
                assert reply.json()["canTrade"] is True
            unknown = client.get("/api/v3/account", params={"timestamp": int(time.time() * 1000), "signature": "0" * 64},
                                 headers={"X-MBX-APIKEY": token_hex(32)})
            assert unknown.status_code in (400, 401)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=EXIT_TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=EXIT_TIMEOUT_S)
        stdout, stderr = proc.communicate(timeout=EXIT_TIMEOUT_S)
    output = stdout + stderr
    for secret in (*from_file, *inline):
        assert secret.encode() not in output


def test_standalone_fake_rejects_a_malformed_account():
    proc = subprocess.run([sys.executable, "-m", "tests.fake_binance", "--hmac-account", "no-colon"],
                          check=False, cwd=ROOT, capture_output=True, timeout=EXIT_TIMEOUT_S)
    assert proc.returncode == 2 and b"API_KEY:SECRET" in proc.stderr
