"""The Dagster UI in a real browser: what a data engineer sees, and a materialization launched by
clicking through it; a daily_sync run with one product Pixee refused, as the person on call opens
it at 06:00.

`dagster-webserver` serves `workspace.yaml` on 127.0.0.1 from a temporary DAGSTER_HOME; Debian's
chromium (`apt-get install chromium`, never `playwright install`) is driven by Playwright. The
instance uses the DefaultRunCoordinator, so a run launched from the UI starts at once without a
daemon (nothing else ticks: no schedule or sensor runs behind the test's back). No vendor
credential reaches the server (it shows what a deployment with the production defaults shows);
the one run launched from the UI, `erp_items` for the sample day, only reads the sample ERP drop.
The daily_sync run is made by a separate process against the local API sandbox, in the same
instance, as `make demo` makes it.

The run page, the asset page of pixee_products_sync and the Launchpad are saved as screenshots in
`artifacts/`; with UPDATE_SCREENSHOTS=1 also in `docs/screenshots/` (the README shows them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from erp_sandbox import SandboxConfig, run_sandbox
from erp_sandbox.demo import sandbox_environment
from pipelines.definitions import defs
from tests.conftest import ROOT

DAY = "2026-11-21"
ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
# What a person on call sees first: a viewport like a laptop's, pictures small enough to commit.
SCREENSHOT_VIEWPORT = {"width": 1440, "height": 900}
# A loaded machine (the whole suite on two cores) renders the asset graph in well over 5 s.
EXPECT_TIMEOUT_MS = 30_000
LAUNCHPAD = "/locations/pipelines.definitions/jobs/daily_sync/playground"
# The daily_sync of the sample day, as `make demo` runs it, in the UI's instance.
RUN_DAILY_SYNC = (
    "import sys; from erp_sandbox.demo import run_daily_sync; "
    "result = run_daily_sync(sys.argv[1]); print(result.run_id); sys.exit(not result.success)"
)
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Tall enough that the expanded graph fits at the zoom where nodes show full names and kinds.
GRAPH_VIEWPORT = {"width": 1800, "height": 1500}
VENDOR_ENV = (
    "PAQTANA_TOKEN",
    "PAQTANA_ORG",
    "PIXEE_API_KEY",
    "PXM_CLIENT_ID",
    "PXM_CLIENT_SECRET",
    "PAQTANA_BASE_URL",
    "PIXEE_BASE_URL",
    "PXM_BASE_URL",
)
SERVER_START_TIMEOUT_S = 90
RUN_TIMEOUT_S = 90
INSTANCE_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""
# The "Join the Dagster community" dialog opens a second after the first page load of a new
# instance and covers whatever is under it (the launch dialog included). The instance is told it
# was seen, as the dialog's own Skip button does, before any page opens.
NUX_SEEN_MUTATION = "mutation { setNuxSeen }"
NUX_QUERY = "{ shouldShowNux }"
LOCATION_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def find_chromium() -> str:
    """Debian's chromium, or a clear skip (a fail on CI, where .ci/run installs it)."""
    for candidate in CHROMIUM_CANDIDATES:
        found = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if found and os.access(found, os.X_OK):
            return found
    reason = "no chromium at /usr/bin/chromium or on PATH (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it on CI")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterUI:
    url: str
    home: Path
    data_dir: Path
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_until_served(ui: DagsterUI, server: subprocess.Popen) -> None:
    """Until the webserver answers and the code location is loaded (or failed to, loudly)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster-webserver exited ({server.returncode}):\n{ui.log_tail()}")
        try:
            answer = httpx.post(f"{ui.url}/graphql", json={"query": LOCATION_QUERY}, timeout=5)
            entries = answer.json()["data"]["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            entries = []
        loaded = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
        errors = [e["message"] for e in loaded if e["__typename"] == "PythonError"]
        if errors:
            pytest.fail(f"the code location did not load:\n{errors[0]}")
        if loaded:
            return
        time.sleep(0.5)
    pytest.fail(f"dagster-webserver not ready in {SERVER_START_TIMEOUT_S} s:\n{ui.log_tail()}")


def mark_community_dialog_seen(ui: DagsterUI) -> None:
    """So no test races the community dialog for the pointer."""
    graphql = f"{ui.url}/graphql"
    httpx.post(graphql, json={"query": NUX_SEEN_MUTATION}, timeout=10).raise_for_status()
    answer = httpx.post(graphql, json={"query": NUX_QUERY}, timeout=10)
    assert answer.json()["data"]["shouldShowNux"] is False, answer.text


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory) -> Iterator[DagsterUI]:
    tmp = tmp_path_factory.mktemp("dagster_ui")
    home, data_dir = tmp / "dagster_home", tmp / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    ui = DagsterUI(f"http://127.0.0.1:{free_port()}", home, data_dir, tmp / "webserver.log")
    env = {k: v for k, v in os.environ.items() if k not in VENDOR_ENV}
    env |= {"DAGSTER_HOME": str(home), "ERP_SYNC_DATA_DIR": str(data_dir)}
    webserver = Path(sys.executable).with_name("dagster-webserver")
    command = [str(webserver), "-h", "127.0.0.1", "-p", ui.url.rsplit(":", 1)[1]]
    command += ["-w", str(ROOT / "workspace.yaml")]
    with ui.log.open("w") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_served(ui, server)
        mark_community_dialog_seen(ui)
        yield ui
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # its own session: the code server goes too
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def browser(dagster_ui) -> Iterator[Any]:
    chromium = find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is a dev dependency: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, dagster_ui) -> Iterator[Any]:
    page = browser.new_page(viewport=GRAPH_VIEWPORT, base_url=dagster_ui.url)
    page.set_default_timeout(30_000)
    yield page
    page.close()


def visible_text(page, text: str) -> None:  # noqa: ANN001
    page.get_by_text(text, exact=True).first.wait_for(state="visible")


def test_the_automation_page_shows_the_schedule_and_every_sensor(page):
    repository = defs.get_repository_def()
    expected = [s.name for s in repository.schedule_defs] + [s.name for s in repository.sensor_defs]
    assert {"daily_sync_schedule", "erp_drop_sensor"} <= set(expected)

    page.goto("/overview/automation")
    for name in expected:
        visible_text(page, name)
    page.goto("/jobs")
    for job in ("daily_sync", "demand_backfill", "pixee_patch_products"):
        visible_text(page, job)


def test_materializing_the_sample_day_of_erp_items_from_the_ui_succeeds(page, dagster_ui):
    page.goto("/assets/erp_items")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    partitions = dialog.get_by_placeholder("No matching partitions")
    partitions.fill(DAY)
    partitions.press("Enter")
    dialog.get_by_role("button", name="Launch 1 run").click()

    with dg.DagsterInstance.from_config(str(dagster_ui.home)) as instance:
        run = wait_for_run(instance, dagster_ui)
        failures = [
            e.message
            for e in instance.all_logs(run.run_id)
            if e.dagster_event and e.dagster_event.is_failure
        ]
        assert run.status == dg.DagsterRunStatus.SUCCESS, failures or dagster_ui.log_tail()
        assert run.tags["dagster/partition"] == DAY
        assert run.asset_selection == {dg.AssetKey("erp_items")}
        event = instance.get_latest_materialization_event(dg.AssetKey("erp_items"))
        assert event is not None and event.run_id == run.run_id
        materialization = event.asset_materialization
        assert materialization.partition == DAY
        assert materialization.metadata["dagster/row_count"].value > 0
    assert (dagster_ui.data_dir / "staging" / "erp_items" / f"{DAY}.parquet").is_file()

    page.goto(f"/runs/{run.run_id}")
    visible_text(page, "Success")


def wait_for_run(instance: dg.DagsterInstance, ui: DagsterUI) -> dg.DagsterRun:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": DAY}))
        runs = [r for r in runs if r.job_name != "daily_sync"]  # the partial run's, not the UI's
        if runs and runs[0].is_finished:
            assert len(runs) == 1, [r.run_id for r in runs]
            return runs[0]
        time.sleep(0.5)
    pytest.fail(f"no finished run for {DAY} after {RUN_TIMEOUT_S} s:\n{ui.log_tail()}")


def test_the_asset_graph_names_every_asset_in_its_group(page):
    specs = list(defs.resolve_all_asset_specs())
    page.goto("/asset-groups")
    for group in {spec.group_name for spec in specs}:
        visible_text(page, group)
    # Graph alone (no navigation, no group tree), then every group opened: the layout is fitted
    # again at a zoom where each node shows its full name, checks and kinds.
    page.get_by_role("button", name="Hide navigation").click()
    page.locator("button:has([aria-label='panel_show_right'])").last.click()
    page.locator("button:has([aria-label='settings'])").last.click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")  # close the settings menu before the picture
    page.get_by_role("menuitem").first.wait_for(state="hidden")
    for spec in specs:
        visible_text(page, spec.key.to_user_string())
    page.wait_for_timeout(1_500)  # statuses and edges arrive after the names
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "asset_graph.png"))
    assert (ARTIFACTS / "asset_graph.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def partial_run(dagster_ui) -> str:
    """The id of a daily_sync run of the sample day against the sandbox, which refuses one
    product (no name): the run succeeds, one item is missing at Pixee."""
    with run_sandbox(SandboxConfig()) as sandbox:
        env = {k: v for k, v in os.environ.items() if k not in VENDOR_ENV}
        env |= sandbox_environment(sandbox, SandboxConfig())
        env |= {"DAGSTER_HOME": str(dagster_ui.home), "ERP_SYNC_DATA_DIR": str(dagster_ui.data_dir)}
        run = subprocess.run(
            [sys.executable, "-c", RUN_DAILY_SYNC, DAY],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        refused = [p for p in sandbox.pixee_products() if not p.get("name")]
    assert run.returncode == 0, run.stderr[-3000:]
    assert refused == [], "the sandbox took a product without a name"
    return run.stdout.split()[-1]


@pytest.fixture
def screen(browser, dagster_ui) -> Iterator[Any]:
    page = browser.new_page(viewport=SCREENSHOT_VIEWPORT, base_url=dagster_ui.url)
    page.set_default_timeout(30_000)
    yield page
    page.close()


def screenshot(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(500)  # icons and late fragments settle
    page.screenshot(path=str(ARTIFACTS / name))
    assert (ARTIFACTS / name).stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, SCREENSHOTS / name)


def test_a_refused_product_shows_on_the_run_page_and_the_asset_graph_unexpanded(
    screen, partial_run
):
    from playwright.sync_api import expect

    screen.goto(f"/runs/{partial_run}")
    # the delivery check's warning, said again by the report step: the run's last words
    warning = screen.get_by_text("Partial delivery:", exact=False).last
    expect(warning).to_be_in_viewport(timeout=EXPECT_TIMEOUT_MS)
    expect(warning).to_contain_text("pixee: 1 refused by Pixee", timeout=EXPECT_TIMEOUT_MS)
    # the re-send, one paste away
    expect(warning).to_contain_text("force: true", timeout=EXPECT_TIMEOUT_MS)
    screenshot(screen, "run_page.png")
    # run elsewhere with the sandbox's settings, it is still this code location's job: no
    # "may be a different version" on re-execute
    reexecute = screen.get_by_role("button", name="Re-execute all (*)")
    expect(reexecute).to_be_enabled(timeout=EXPECT_TIMEOUT_MS)
    assert reexecute.locator("[role='img']").count() == 0, reexecute.inner_html()

    screen.goto("/runs")
    expect(screen.get_by_text("erp_sync/partial", exact=False).first).to_be_in_viewport(
        timeout=EXPECT_TIMEOUT_MS
    )
    expect(screen.get_by_text("erp_sync/requests_to.pixee", exact=False).first).to_contain_text(
        "sandbox: 127.0.0.1", timeout=EXPECT_TIMEOUT_MS
    )

    screen.goto("/assets/pixee_products_sync")
    expect(screen.get_by_text("requests_to", exact=True).first).to_be_in_viewport(
        timeout=EXPECT_TIMEOUT_MS
    )
    screenshot(screen, "pixee_products_sync.png")

    screen.goto("/locations/pipelines.definitions/asset-groups/pixee")
    checks = screen.locator("a[href='/assets/pixee_products_sync?view=checks']")
    expect(checks.locator("[aria-label='warning_outline']")).to_be_in_viewport(
        timeout=EXPECT_TIMEOUT_MS
    )


def test_the_launchpad_of_daily_sync_shows_no_url_and_no_mode(screen):
    from playwright.sync_api import expect

    screen.goto(LAUNCHPAD)
    editor = screen.locator(".CodeMirror").first
    expect(editor).to_contain_text("sync_mode:", timeout=EXPECT_TIMEOUT_MS)
    shown = editor.inner_text()
    assert "base_url: ''" in shown
    assert "https://" not in shown and "http://" not in shown
    assert "live" not in shown and "dry-run" not in shown
    screenshot(screen, "launchpad.png")
