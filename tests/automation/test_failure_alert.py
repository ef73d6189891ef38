"""The run-failure sensor posts exactly the alert fields to the webhook, and never raises."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from pipelines.core.alerts import error_text, first_line, run_url
from pipelines.defs import settings
from pipelines.defs.automation.alerts import run_failure_alert

SECRET_PATH = "/hooks/T000/B000/s3cr3t-token"


@dataclass
class Receiver:
    """A webhook on 127.0.0.1 that records what it was sent and answers `status`."""

    port: int
    status: int = 200
    received: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{SECRET_PATH}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(
                {
                    "path": self.path,
                    "content_type": self.headers["Content-Type"],
                    "json": json.loads(body),
                }
            )
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:  # keep pytest output quiet
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dg.op
def explode() -> None:
    raise ValueError("boom\nsecond line")


@dg.job
def failing_job() -> None:
    explode()


@pytest.fixture(autouse=True)
def python_logs_at_info(caplog):
    caplog.set_level(logging.INFO)


@pytest.fixture(scope="module")
def failed_run():
    """One failed run shared by the tests: the sensor only reads it."""
    with dg.instance_for_test() as instance:
        result = failing_job.execute_in_process(
            instance=instance, raise_on_error=False, tags={"dagster/partition": "2026-11-21"}
        )
        assert not result.success
        yield instance, result


def logged(capfd, caplog) -> str:
    """What the sensor logged (Dagster's sensor logger writes to the console, not to Python's
    root logger) and every Python log record at INFO, such as httpx's own request lines."""
    return capfd.readouterr().err + caplog.text


def evaluate(failed_run) -> str:
    instance, result = failed_run
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    )
    run_failure_alert(context)
    return result.run_id


@pytest.fixture
def webserver(monkeypatch) -> str:
    monkeypatch.setattr(settings, "DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000/")
    return "http://127.0.0.1:3000"


def test_sensor_monitors_every_job_of_the_location_and_is_on_by_default():
    assert run_failure_alert.default_status == dg.DefaultSensorStatus.RUNNING
    assert run_failure_alert.name == "run_failure_alert"


def test_failed_run_posts_the_alert_fields_and_nothing_else(
    failed_run, receiver, webserver, monkeypatch, capfd, caplog
):
    monkeypatch.setenv("ALERT_WEBHOOK_URL", receiver.url)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    run_id = evaluate(failed_run)
    log = logged(capfd, caplog)

    [posted] = receiver.received
    assert posted["path"] == SECRET_PATH
    assert posted["content_type"] == "application/json"
    alert = posted["json"]
    failed_at = dt.datetime.fromisoformat(alert.pop("time"))
    assert before - dt.timedelta(seconds=30) <= failed_at <= dt.datetime.now(dt.UTC)
    assert alert == {
        "job": "failing_job",
        "run_id": run_id,
        "partition": "2026-11-21",
        "failed_step": "explode",
        "error": "boom",
        "run_url": f"{webserver}/runs/{run_id}",
        "text": f"failing_job for 2026-11-21 failed at step explode: boom "
        f"{webserver}/runs/{run_id}",
    }
    assert f"run {run_id} of failing_job for 2026-11-21 failed at step explode: boom" in log
    assert f"failure alert for run {run_id} delivered (HTTP 200)" in log
    assert "s3cr3t" not in log


def test_without_webhook_the_failure_is_only_logged(
    failed_run, receiver, monkeypatch, capfd, caplog
):
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)

    run_id = evaluate(failed_run)
    log = logged(capfd, caplog)

    assert receiver.received == []
    assert f"run {run_id} of failing_job for 2026-11-21 failed at step explode: boom" in log
    assert "failure alert for run" not in log


def test_unreachable_webhook_is_logged_and_does_not_raise(failed_run, monkeypatch, capfd, caplog):
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:1{SECRET_PATH}")

    run_id = evaluate(failed_run)
    log = logged(capfd, caplog)

    assert (
        f"failure alert for run {run_id} not delivered: alert webhook at 127.0.0.1 not reached: "
        "ConnectError" in log
    )
    assert "s3cr3t" not in log


def test_webhook_refusing_the_alert_is_logged_and_does_not_raise(
    failed_run, receiver, monkeypatch, capfd, caplog
):
    receiver.status = 500
    monkeypatch.setenv("ALERT_WEBHOOK_URL", receiver.url)

    run_id = evaluate(failed_run)
    log = logged(capfd, caplog)

    assert len(receiver.received) == 1
    assert (
        f"failure alert for run {run_id} not delivered: alert webhook at 127.0.0.1 answered "
        "HTTP 500" in log
    )
    assert "s3cr3t" not in log


@pytest.mark.parametrize(
    ("cls_name", "message", "expected"),
    [
        ("ValueError", "ValueError: boom\nsecond line\n", "boom"),
        (
            "VendorError",
            "pipelines.core.http.VendorError: paqtana PUT x failed: HTTP 400: bad row\n",
            "paqtana PUT x failed: HTTP 400: bad row",
        ),
        ("KeyError", "KeyError: 'code'\n", "'code'"),
        ("DagsterAssetCheckFailedError", "\n1 blocking check failed\n", "1 blocking check failed"),
    ],
)
def test_error_text_is_the_first_line_without_the_class_prefix(cls_name, message, expected):
    assert error_text(cls_name, message) == expected


def test_run_url_and_first_line_helpers():
    assert run_url("http://ui:3000/", "abc") == "http://ui:3000/runs/abc"
    assert run_url(None, "abc") is None
    assert first_line("\n  \nfirst\nsecond") == "first"
