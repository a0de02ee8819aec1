"""The monthly schedule builds the report after a refresh and emails the PDF; nothing else emails.

The email goes through a real SMTP server (aiosmtpd on 127.0.0.1) from the Dagster asset, run in
process; the report build itself is covered by tests/e2e.
"""

from __future__ import annotations

import email
import email.policy
import socket
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller

from orchestration.core.resources import IcwSettings
from orchestration.core.settings import Settings
from orchestration.reporting import assets as reporting
from orchestration.reporting.assets import DELIVERY_KEY, REPORT_KEY, report_emailed
from orchestration.reporting.evidence import ReportBuildError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    from orchestration.core.settings import Settings
    from orchestration.definitions import build_definitions

    home = tmp_path_factory.mktemp("defs")
    return build_definitions(Settings.from_env({"ICW_HOME": str(home)}))


def _job_keys(defs: dg.Definitions, name: str) -> set[dg.AssetKey]:
    return set(defs.resolve_job_def(name).asset_layer.selected_asset_keys)


def test_the_schedule_runs_refresh_report_and_email_at_seven_on_the_sixth(defs):
    schedule = defs.resolve_schedule_def("monthly_refresh")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 7 6 * *", "Europe/London")
    assert schedule.job_name == "monthly_report"
    keys = _job_keys(defs, "monthly_report")
    assert {REPORT_KEY, DELIVERY_KEY, dg.AssetKey(["marts", "published"])} <= keys
    assert dg.AssetKey(["raw", "referrals"]) in keys
    # The email waits for the report, which waits for the published marts.
    graph = defs.resolve_asset_graph()
    assert REPORT_KEY in graph.get(DELIVERY_KEY).parent_keys
    assert dg.AssetKey(["marts", "published"]) in graph.get(REPORT_KEY).parent_keys


def test_only_the_schedule_emails(defs):
    keys = _job_keys(defs, "refresh")
    assert REPORT_KEY in keys and DELIVERY_KEY not in keys
    sensor = defs.resolve_sensor_def("landing_sensor")
    assert sensor.job_name == "refresh"


class _Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(
            (list(envelope.rcpt_tos), email.message_from_bytes(envelope.content,
                                                               policy=email.policy.default))
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings_resource() -> dict:
    """The run's settings as a refresh hands them to its steps (from the environment here)."""
    return {"icw_settings": IcwSettings.of(Settings.from_env())}


def test_the_email_step_sends_the_pdfs_this_runs_report_step_recorded(
    tmp_path: Path, monkeypatch
):
    reports = tmp_path / "reports"
    reports.mkdir()
    pack = reports / "icw-pack-2025-09.pdf"
    pack.write_bytes(b"%PDF-1.7\nthe pack\n%%EOF\n")
    card = reports / "icw-scorecard-WM01-2025-09.pdf"
    card.write_bytes(b"%PDF-1.7\nWM01\n%%EOF\n")
    recipients = tmp_path / "recipients.csv"
    recipients.write_text("pack,ldu_code,email,name\n"
                          "DIVISION,,head.of.service@example.org,Head\n"
                          "LDU,WM01,head.wm01@example.org,Head of WM01\n")

    @dg.asset(key=REPORT_KEY)
    def report_site() -> dg.MaterializeResult:  # a stand-in, recording what the real one does
        return dg.MaterializeResult(metadata={
            "pack": dg.MetadataValue.path(str(pack)),
            "scorecards": dg.MetadataValue.json({"WM01": str(card)}),
            "reporting_month": "2025-09", "as_at_date": "2025-10-03"})

    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("ICW_HOME", str(tmp_path))
    monkeypatch.setenv("ICW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ICW_SMTP_PORT", str(port))
    monkeypatch.setenv("ICW_REPORT_RECIPIENTS_FILE", str(recipients))
    monkeypatch.delenv("ICW_REPORT_RECIPIENTS", raising=False)
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize([report_site, report_emailed], instance=instance,
                                    resources=_resources(tmp_path))
    finally:
        controller.stop()

    assert result.success
    sent = {tuple(recipients): message for recipients, message in inbox.messages}
    assert set(sent) == {("head.of.service@example.org",), ("head.wm01@example.org",)}
    [attachment] = list(sent[("head.wm01@example.org",)].iter_attachments())
    assert attachment.get_content() == card.read_bytes()
    assert sent[("head.of.service@example.org",)]["Subject"] == (
        "ICW monthly report: September 2025 (division pack)")
    assert DELIVERY_KEY in {e.asset_key for e in result.get_asset_materialization_events()}


def _resources(home: Path) -> dict:
    from dagster_duckdb import DuckDBResource

    return {**_settings_resource(),
            "duckdb": DuckDBResource(database=str(home / "warehouse.duckdb"))}


def test_without_email_settings_nothing_is_sent_or_materialised(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ICW_HOME", str(tmp_path))
    monkeypatch.delenv("ICW_SMTP_HOST", raising=False)
    monkeypatch.delenv("ICW_REPORT_RECIPIENTS", raising=False)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([report_emailed], instance=instance,
                                resources=_resources(tmp_path))
    assert result.success
    assert result.get_asset_materialization_events() == []


def test_a_failed_build_says_the_last_good_report_stays(tmp_path: Path, monkeypatch):
    site = tmp_path / "reports" / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html>last month</html>")
    (tmp_path / "reports" / "icw-pack-2025-08.pdf").write_bytes(b"%PDF")
    monkeypatch.setenv("ICW_HOME", str(tmp_path))

    def failing_build(*args, **kwargs):
        raise ReportBuildError("npm run sources: source queries icw.loads wrote no data")

    monkeypatch.setattr(reporting, "build_report", failing_build)
    warehouse = tmp_path / "warehouse.duckdb"
    from dagster_duckdb import DuckDBResource

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [reporting.report_site],
            instance=instance,
            resources={"duckdb": DuckDBResource(database=str(warehouse)),
                       **_settings_resource()},
            raise_on_error=False,
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.step_failure_data.user_failure_data.description
    assert "The report was not rebuilt: npm run sources" in description
    assert "The last good report stays in place" in description
    assert str(site) in description and "icw-pack-2025-08.pdf" in description
