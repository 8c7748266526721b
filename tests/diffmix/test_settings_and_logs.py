"""One Settings for the environment, passed in; logging through the standard module, as text or JSON lines."""

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

from diffmix import logs
from diffmix.settings import DEFAULT_DATABASE_URL, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_no_library_module_reads_the_environment():
    readers = []
    for pkg in ("model", "service", "db", "robot"):
        for f in (ROOT / pkg).rglob("*.py"):
            if re.search(r"os\.environ|os\.getenv|getenv\(", f.read_text()):
                readers.append(str(f.relative_to(ROOT)))
    # the service's CLI hands the log format on to worker processes it spawns, by their environment
    assert readers == ["service/cli.py"], readers


def test_settings_read_the_documented_variables(monkeypatch, tmp_path):
    for var in ("DATABASE_URL", "DIFFMIX_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    assert Settings().database_url == DEFAULT_DATABASE_URL
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("DIFFMIX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DIFFMIX_LEASE_SECONDS", "42")
    monkeypatch.setenv("DIFFMIX_LOG_JSON", "1")
    s = Settings()
    assert (s.database_url, s.data_dir, s.lease_seconds, s.log_json) == ("postgresql://u@h/db", tmp_path, 42.0, True)


def test_json_log_lines_carry_extra_fields_and_exceptions(capsys):
    logs.configure(json_lines=True)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("robot.agent").exception("experiment 7 failed", extra={"experiment_id": 7})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    rec = json.loads(line)
    assert rec["logger"] == "robot.agent" and rec["level"] == "ERROR" and rec["experiment_id"] == 7
    assert rec["message"] == "experiment 7 failed" and "ValueError: boom" in rec["exception"]
    logs.configure(prefix="[robot] ")
    logging.getLogger("robot.agent").warning("waiting for the service")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    # a readable line says when: UTC to the millisecond, then the prefix and the message
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[robot\] waiting for the service", line), line
    logs.configure()


def test_the_agent_logs_json_lines(live, tmp_path):
    cmd = [sys.executable, "-m", "diffmix", "robot", "run", "--service", live.url, "--key", live.keys["robot"],
           "--backend", "sim", "--journal", str(tmp_path / "j.jsonl"), "--poll", "0.05", "--idle-exit", "0.2",
           "--log-json"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    records = [json.loads(line) for line in p.stderr.splitlines() if line.strip()]
    assert any("queue empty" in r["message"] for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
