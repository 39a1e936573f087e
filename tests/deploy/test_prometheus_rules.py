"""The Prometheus rules and example configuration under deploy/prometheus/, checked by promtool."""

import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULE_FILES = [PROMETHEUS_DIR / "recording.yml", PROMETHEUS_DIR / "alerts.yml"]
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
EXAMPLE_TOKEN_FILE = "/etc/prometheus/folio-token"


def run_promtool(promtool: Path, *args: str) -> str:
    done = subprocess.run([str(promtool), *args], capture_output=True, text=True, timeout=60, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_rule_files_are_valid(promtool: Path) -> None:
    output = run_promtool(promtool, "check", "rules", *map(str, RULE_FILES))
    assert output.count("SUCCESS") == len(RULE_FILES), output


def test_every_alert_and_recording_rule_holds_on_synthetic_series(promtool: Path) -> None:
    assert {path.stem for path in RULE_TESTS} >= {"http", "cache_db", "reports", "scaling", "cost"}
    output = run_promtool(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert output.count("SUCCESS") == len(RULE_TESTS), output


def test_every_alert_is_unit_tested_with_severity_and_runbook() -> None:
    alerts_text = (PROMETHEUS_DIR / "alerts.yml").read_text()
    tests_text = "".join(path.read_text() for path in RULE_TESTS)
    alert_names = [line.split(":", 1)[1].strip() for line in alerts_text.splitlines() if "- alert:" in line]
    assert len(alert_names) >= 10
    for name in alert_names:
        assert f"alertname: {name}\n" in tests_text, f"{name} has no promtool test"
    assert len(re.findall(r"^ +severity: (?:critical|warning)$", alerts_text, re.MULTILINE)) == len(alert_names)
    for annotation in ("summary", "description", "runbook"):
        assert len(re.findall(rf"^ +{annotation}: ", alerts_text, re.MULTILINE)) == len(alert_names), annotation


def test_example_configuration_is_valid(promtool: Path, tmp_path: Path) -> None:
    """The example loads both rule files; checked with its token file present, as promtool requires."""
    token = tmp_path / "folio-token"
    token.write_text("a-token\n")
    config = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    assert EXAMPLE_TOKEN_FILE in config
    (tmp_path / "prometheus.yml").write_text(config.replace(EXAMPLE_TOKEN_FILE, str(token)))
    for rules in RULE_FILES:
        shutil.copy(rules, tmp_path / rules.name)
    output = run_promtool(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert "SUCCESS: 2 rule files found" in output, output
