"""conf/prometheus.yml and conf/gearmand-py-alerts.yml: promtool accepts them, every metric the
rules name is one a running server's /metrics has, and each alert fires on the series that
should raise it and stays quiet on the ones that should not (``promtool test rules``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.prerequisites import require
from tests.support.servers import REPO, free_port, start_server

CONF = REPO / "conf"
RULES = CONF / "gearmand-py-alerts.yml"

#: One scenario per alert: the series that raise it, and a healthy instance that must not.
RULE_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{{job="gearmand-py",instance="down"}}'
        values: '1 0x5'
      - series: 'up{{job="gearmand-py",instance="ok"}}'
        values: '1x5'
      - series: 'gearman_queue_reachable{{instance="down"}}'
        values: '1 0x5'
      - series: 'gearman_queue_reachable{{instance="ok"}}'
        values: '1x5'
      - series: 'gearman_jobs_waiting{{instance="ok",function="orphan"}}'
        values: '3x10'
      - series: 'gearman_workers{{instance="ok",function="orphan"}}'
        values: '0x10'
      - series: 'gearman_jobs_waiting{{instance="ok",function="served"}}'
        values: '3x10'
      - series: 'gearman_workers{{instance="ok",function="served"}}'
        values: '2x10'
      - series: 'gearman_oldest_job_age_seconds{{instance="ok",function="orphan"}}'
        values: '600+60x10'
      - series: 'gearman_jobs_completed_total{{instance="ok",function="orphan"}}'
        values: '0+10x20'
      - series: 'gearman_jobs_failed_total{{instance="ok",function="orphan",reason="exception"}}'
        values: '0+5x20'
      - series: 'gearman_jobs_completed_total{{instance="ok",function="served"}}'
        values: '0+10x20'
      - series: 'gearman_jobs_failed_total{{instance="ok",function="served",reason="cancelled"}}'
        values: '0+50x20'
      - series: 'gearman_queue_errors_total{{instance="down"}}'
        values: '0 0 4 4 4 4 4 4 4 4'
    alert_rule_test:
      - eval_time: 3m
        alertname: GearmanDown
        exp_alerts:
          - exp_labels: {{severity: critical, job: gearmand-py, instance: down}}
            exp_annotations:
              summary: gearmand-py on down does not answer scrapes
      - eval_time: 3m
        alertname: GearmanQueueStoreUnreachable
        exp_alerts:
          - exp_labels: {{severity: critical, instance: down}}
            exp_annotations:
              summary: The persistent queue store of down is unreachable
              description: Background jobs are not being stored; /healthz answers 503.
      - eval_time: 6m
        alertname: GearmanNoWorkers
        exp_alerts:
          - exp_labels: {{severity: warning, instance: ok, function: orphan}}
            exp_annotations:
              summary: Jobs for orphan wait and no worker can do them
      - eval_time: 4m
        alertname: GearmanJobsWaitTooLong
      - eval_time: 6m
        alertname: GearmanJobsWaitTooLong
        exp_alerts:
          - exp_labels: {{severity: warning, instance: ok, function: orphan}}
            exp_annotations:
              summary: The oldest orphan job has waited 16m 0s
      - eval_time: 16m
        alertname: GearmanJobsFailing
        exp_alerts:
          - exp_labels: {{severity: warning, instance: ok, function: orphan}}
            exp_annotations:
              summary: 33.33% of orphan jobs fail
      - eval_time: 3m
        alertname: GearmanQueueErrors
        exp_alerts:
          - exp_labels: {{severity: warning, instance: down}}
            exp_annotations:
              summary: The persistent queue of down failed 4 times in 5 minutes
      - eval_time: 9m
        alertname: GearmanQueueErrors
"""


def promtool() -> str:
    path = shutil.which("promtool")
    require(path, "promtool (Debian's prometheus package) is not installed")
    return path  # type: ignore[return-value]


def run(*args: str) -> None:
    done = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_scrape_config_and_the_rules() -> None:
    run("check", "config", str(CONF / "prometheus.yml"))
    run("check", "rules", str(RULES))


def test_each_alert_fires_when_it_should_and_not_otherwise(tmp_path: Path) -> None:
    tests = tmp_path / "alerts-test.yml"
    tests.write_text(RULE_TESTS.format(rules=RULES))
    run("test", "rules", str(tests))


def test_the_rules_name_only_metrics_the_server_exposes(tmp_path: Path) -> None:
    monitor_port = free_port()
    server = start_server("gearmand-py", ["-q", "libsqlite3", "--libsqlite3-db",
                                          str(tmp_path / "q.db"),
                                          "--monitor-port", str(monitor_port)])
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/metrics",
                                    timeout=10) as reply:
            text = reply.read().decode()
    finally:
        server.stop()
    exposed = set()
    for family in text_string_to_metric_families(text):
        exposed.add(family.name)
        exposed.add(family.name + "_total")
    named = set(re.findall(r"\bgearman_[a-z_]+", RULES.read_text()))
    assert named and named <= exposed, named - exposed
