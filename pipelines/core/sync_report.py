"""The daily sync report: what one run did per vendor, in words a person reads without the UI.

Built from plain figures (each load's metadata values by key, the run's check results, its
failed steps, and the reasons counted in each rejects file), so the same report is the Markdown
file under the data folder, the Markdown on the run's last step, and `make demo`'s summary.
The keys read are the loads' headline (`cadence`, `sent`, `refused`, `failed`, `requests_to`)
and a few figures each load already has; a key a load lacks reads as nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.core.cadence.endpoints import Endpoint

REASONS_SHOWN = 3
NOTHING_TO_DO = "Nothing to do."
# The warning check each vendor load carries when items were refused, carried forward or held
# back: the report lists it; the terminal summary leaves it out (the load's line has the counts).
DELIVERY_CHECK = "delivered_in_full"
# how every rejects file words a vendor's refusal (pipelines/core/rejects.py: vendor_refusal)
VENDOR_REFUSAL = "refused by "
_RUN_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


@dataclass(frozen=True)
class Load:
    """One vendor call a daily sync makes, and the assets whose figures speak of it."""

    asset: str
    endpoint: Endpoint
    what: str  # the unit `sent` counts: rows, values, products
    extract: str | None = None  # the ERP extract feeding it (its refused rows are the ERP's)
    # the load's `refused` counts the extract's refused rows too (they are not sent)
    refused_counts_extract: bool = False


@dataclass(frozen=True)
class Vendor:
    title: str
    loads: tuple[Load, ...]
    other_assets: tuple[str, ...] = ()  # assets whose failed checks belong to this vendor


VENDORS = (
    Vendor(
        "Paqtana inventory",
        (
            Load(
                "paqtana_master_inventory",
                Endpoint.PAQTANA_MASTER_INVENTORY,
                "rows",
                "erp_items",
                refused_counts_extract=True,
            ),
        ),
        other_assets=("erp_items",),
    ),
    Vendor(
        "Paqtana demand",
        (
            Load(
                "paqtana_historical_demand",
                Endpoint.PAQTANA_HISTORICAL_DEMAND,
                "values",
                "erp_demand",
            ),
        ),
        other_assets=("erp_demand",),
    ),
    Vendor(
        "Pixee",
        (
            Load("pixee_products_sync", Endpoint.PIXEE_PRODUCTS_BATCH, "products", "erp_products"),
            Load("pixee_catalog_cache", Endpoint.PIXEE_DELTA_READ, "products"),
        ),
        other_assets=("erp_products", "pixee_products_payload"),
    ),
    Vendor("PXM", (Load("pxm_catalog_cache", Endpoint.PXM_CATALOG_READ, "collections"),)),
)


@dataclass(frozen=True)
class CheckResult:
    asset: str
    name: str
    passed: bool
    severity: str  # WARN or ERROR
    description: str = ""


@dataclass
class RunFigures:
    """What the run recorded, as plain values: `materializations` maps an asset to its
    metadata values by key; `failures` maps an asset to the message of the step that failed
    while loading it (with that step's failure metadata, when it had any, in `materializations`
    if the asset has none of its own); `reasons` maps a rejects file to its reasons counted."""

    job: str
    run_id: str
    day: str
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    not_ended: list[str] = field(default_factory=list)  # steps still running when written


@dataclass(frozen=True)
class Refused:
    """Rows or items not sent (or refused by the vendor), the rejects files that hold them
    (those with rows), and why."""

    count: int
    files: tuple[str, ...] = ()
    reasons: tuple[tuple[str, int], ...] = ()


@dataclass
class LoadReport:
    load: Load
    ran: bool  # a materialization or a failure says what the load did
    decision: str  # sent, forced, skipped, nothing to send, blocked, failed, not run
    cadence: str = ""
    sent: int = 0
    requests: int = 0
    writes: int = 0  # requests that wrote to the vendor (the rest are reads)
    requests_to: str = ""
    extract_refused: Refused | None = None
    not_sent: Refused | None = None  # kept out before sending
    vendor_refused: Refused | None = None  # refused by the vendor (item by item or whole)
    carried_forward: int = 0
    still_failing: Refused | None = None  # Pixee: every product it refuses still
    held_back: int = 0
    error: str | None = None
    facts: list[str] = field(default_factory=list)  # short extra lines (auto_calculate, ...)

    @property
    def reads(self) -> int:
        return self.requests - self.writes


@dataclass(frozen=True)
class Step:
    """A next step: `kind` groups them (fix, failed, blocked, already_sent, check, shortfall,
    ...) so the terminal summary can say alike steps once; `text` is Markdown, maybe with a
    config block."""

    kind: str
    text: str


@dataclass
class VendorReport:
    vendor: Vendor
    loads: list[LoadReport]
    checks_failed: list[CheckResult]
    next_steps: list[Step]


@dataclass
class SyncReport:
    job: str
    run_id: str
    day: str
    vendors: list[VendorReport]
    not_ended: list[str]
    other_failures: dict[str, str] = field(default_factory=dict)  # failed steps but the loads

    @property
    def wrote(self) -> int:
        return sum(load.writes for v in self.vendors for load in v.loads)

    @property
    def requests(self) -> int:
        return sum(load.requests for v in self.vendors for load in v.loads)

    @property
    def ok(self) -> bool:
        failed = any(load.decision == "failed" for v in self.vendors for load in v.loads)
        return not failed and not self.other_failures


def reasons_in(frame_reasons: Iterable[str]) -> list[tuple[str, int]]:
    """A rejects file's `reason` column counted, most frequent first."""
    return Counter(str(r) for r in frame_reasons).most_common()


def decision_of(cadence: str) -> str:
    """The cadence decision in one word, from the sentence the engine wrote."""
    head = cadence.split(":", 1)[0].strip()
    if cadence.startswith("sent: forced"):
        return "forced"
    if head in ("sent", "skipped", "blocked", "dry-run"):
        return head
    if head == "nothing sent":
        return "nothing to send"
    return head or "not run"


def _int(values: Mapping[str, Any], key: str) -> int:
    value = values.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _refused(
    count: int,
    files: Iterable[Any],
    reasons: Mapping[str, list[tuple[str, int]]],
    *,
    by_vendor: bool = False,
) -> Refused:
    """The files named that hold such rows, and their reasons merged: a load's rejects file
    holds both what we kept out and what the vendor refused (`refused by <vendor>: ...`)."""
    merged: Counter[str] = Counter()
    kept = []
    for path in (str(f) for f in files if f):
        mine = {r: n for r, n in reasons.get(path, ()) if r.startswith(VENDOR_REFUSAL) == by_vendor}
        if mine:
            kept.append(path)
            merged.update(mine)
    return Refused(count, tuple(kept), tuple(merged.most_common()))


def _writes(load: Load, values: Mapping[str, Any]) -> int:
    if load.endpoint.operation.value == "read":
        return 0
    methods = values.get("requests_by_method")
    if methods is None:  # figures without the methods: the units the vendor answered
        return _int(values, "units_sent") or _int(values, "chunks_sent")
    return sum(n for method, n in methods.items() if method.upper() != "GET")


def load_report(load: Load, run: RunFigures) -> LoadReport:
    values = run.materializations.get(load.asset)
    error = run.failures.get(load.asset)
    if values is None and error is None:
        return LoadReport(load, ran=False, decision="not run")
    values = values or {}
    cadence = str(values.get("cadence", ""))
    decision = "failed" if error else decision_of(cadence)
    report = LoadReport(
        load,
        ran=True,
        decision=decision,
        cadence=cadence,
        sent=_int(values, "sent"),
        requests=_int(values, "requests_sent"),
        writes=_writes(load, values),
        requests_to=str(values.get("requests_to", "")),
        carried_forward=_int(values, "rows_carried_forward"),
        held_back=_int(values, "removals_held_back"),
        error=error,
    )
    if load.endpoint.operation.value == "read" and decision in ("sent", "forced"):
        report.sent = _int(values, "products_read") or _int(values, load.what)
    rejects_file = values.get("rejects_file")
    extract = run.materializations.get(load.extract, {}) if load.extract else {}
    extract_file = extract.get("rejects_file")
    if load.refused_counts_extract:
        files = (extract_file, rejects_file)
        report.not_sent = _refused(_int(values, "refused"), files, run.reasons)
    else:
        if load.extract:
            report.extract_refused = _refused(
                _int(extract, "rows_rejected"), (extract_file,), run.reasons
            )
        report.not_sent = _refused(_int(values, "refused"), (rejects_file,), run.reasons)
    if load.endpoint is Endpoint.PIXEE_PRODUCTS_BATCH:
        # the rejects file lists every product Pixee still refuses, today's refusals among them
        report.vendor_refused = Refused(_int(values, "failed"))
        report.still_failing = _refused(
            _int(values, "still_failing"), (rejects_file,), run.reasons, by_vendor=True
        )
    else:
        report.vendor_refused = _refused(
            _int(values, "failed"), (rejects_file,), run.reasons, by_vendor=True
        )
    if "auto_calculate" in values:
        report.facts.append(f"auto_calculate: {values['auto_calculate']}")
    if values.get("days_sent"):
        days = values["days_sent"]
        report.facts.append(f"days sent: {len(days)} ({days[0]}..{days[-1]})")
    return report


def _snippet(endpoint: Endpoint) -> str:
    return (
        "```yaml\n"
        "resources:\n"
        "  cadence:\n"
        "    config:\n"
        "      force: true\n"
        f"      endpoints: [{endpoint.config_name}]\n"
        '      reason: "<why this day goes again>"\n'
        "```"
    )


def _in(refused: Refused) -> str:
    return f" (in {', '.join(f'`{f}`' for f in refused.files)})" if refused.files else ""


def next_steps(loads: list[LoadReport], checks_failed: list[CheckResult]) -> list[Step]:
    """What a person does next, most urgent first; the re-send config where one is the answer."""
    steps: list[Step] = []
    for r in loads:
        name, what = r.load.asset, r.load.what
        refused_by_vendor = r.vendor_refused is not None and r.vendor_refused.count > 0
        if r.decision == "failed" and not refused_by_vendor:
            steps.append(
                Step(
                    "failed",
                    f"`{name}` failed: {r.error}. Launch the day again: what the vendor already "
                    "accepted is not sent twice, the rest of the send resumes.",
                )
            )
        if refused_by_vendor and r.load.endpoint is not Endpoint.PIXEE_PRODUCTS_BATCH:
            steps.append(
                Step(
                    "fix",
                    f"Fix the {r.vendor_refused.count} {what} the vendor refused"
                    f"{_in(r.vendor_refused)} in the ERP; the next send carries them.",
                )
            )
        if r.still_failing and r.still_failing.count:
            steps.append(
                Step(
                    "fix",
                    f"Fix the {r.still_failing.count} product(s) Pixee still refuses"
                    f"{_in(r.still_failing)} in the ERP; every daily send carries them again until "
                    "Pixee accepts them.",
                )
            )
        if r.decision == "blocked":
            steps.append(
                Step(
                    "blocked",
                    f"`{name}` was stopped by a safeguard: {r.cadence.removeprefix('blocked: ')}. "
                    "If the change is real, send it once with a reason:\n\n"
                    + _snippet(r.load.endpoint),
                )
            )
        for label, refused in (
            ("kept out before sending", r.not_sent),
            ("refused at the ERP extract", r.extract_refused),
        ):
            if refused and refused.count and r.decision != "blocked":
                steps.append(
                    Step(
                        "fix",
                        f"Correct the {refused.count} row(s) of `{name}` {label}{_in(refused)} in "
                        "the ERP; the next drop carries them.",
                    )
                )
        if r.carried_forward:
            steps.append(
                Step(
                    "carried",
                    f"{r.carried_forward} row(s) of `{name}` went with the value Paqtana last "
                    "accepted for their faulty field (carried forward): correct them in the ERP.",
                )
            )
        if r.held_back:
            steps.append(
                Step(
                    "held_back",
                    f"{r.held_back} removal(s) of `{name}` held back by the removal safeguard: "
                    "check the products the ERP no longer exports.",
                )
            )
        if _already_sent(r):
            steps.append(
                Step(
                    "already_sent",
                    f"`{name}` was already sent today: nothing to do, tomorrow's run carries "
                    "what is new. To send this day again on purpose (the ERP re-exported it), "
                    "launch it with a reason:\n\n" + _snippet(r.load.endpoint),
                )
            )
    for c in checks_failed:
        if c.name == "safeguards" and any(r.decision == "blocked" for r in loads):
            continue  # said above, with its config
        steps.append(
            Step(
                "shortfall" if c.name == DELIVERY_CHECK else "check",
                f"Check `{c.asset}` `{c.name}` ({c.severity}): {c.description or 'failed'}.",
            )
        )
    return steps or [Step("none", NOTHING_TO_DO)]


def build_report(run: RunFigures) -> SyncReport:
    loads = {load.asset for vendor in VENDORS for load in vendor.loads}
    others = {a: m for a, m in run.failures.items() if a not in loads}
    vendors = []
    for vendor in VENDORS:
        reports = [load_report(load, run) for load in vendor.loads]
        assets = {load.asset for load in vendor.loads} | set(vendor.other_assets)
        failed = [c for c in run.checks if c.asset in assets and not c.passed]
        steps = next_steps(reports, failed)
        if others and any(not r.ran for r in reports):
            missing = ", ".join(f"`{r.load.asset}`" for r in reports if not r.ran)
            steps = [s for s in steps if s.kind != "none"]
            steps.insert(0, Step("not_run", f"{missing} did not run: a step before it failed."))
        vendors.append(VendorReport(vendor, reports, failed, steps))
    return SyncReport(run.job, run.run_id, run.day, vendors, list(run.not_ended), others)


# --- Rendering -------------------------------------------------------------------------------


def _reasons(refused: Refused) -> str:
    shown = [f"{reason} ({n})" for reason, n in refused.reasons[:REASONS_SHOWN]]
    more = len(refused.reasons) - REASONS_SHOWN
    if more > 0:
        shown.append(f"{more} other reason(s)")
    return "; ".join(shown)


def _is_read(r: LoadReport) -> bool:
    return r.load.endpoint.operation.value == "read"


def _traffic(r: LoadReport) -> str:
    """Writes and reads apart: a write skipped by the cadence still makes its reads."""
    if not r.ran:
        return "not run in this run"
    if r.decision == "dry-run":
        return f"dry-run, nothing sent to the vendor: {r.requests} request(s) to the outbox" + (
            f", {r.sent} {r.load.what} in {r.writes} write(s)" if r.writes else ""
        )
    if _is_read(r):
        if r.decision in ("sent", "forced"):
            return f"read {r.sent} {r.load.what}: {r.requests} read request(s), writes nothing"
        return f"reads nothing: {r.requests} request(s)" if r.requests else "no request"
    if r.decision == "failed" and not r.sent:
        head = "FAILED, sent nothing"
    elif r.writes:
        head = f"sent {r.sent} {r.load.what}"
    else:
        head = "writes nothing"
    if r.decision == "failed" and r.sent and r.vendor_refused and r.vendor_refused.count:
        head += f" ({r.vendor_refused.count} refused by the vendor)"
    if not r.writes:
        return head + (f"; reads still happen: {r.reads} request(s)" if r.reads else ", no request")
    return f"{head}: {r.writes} write request(s), {r.reads} read request(s)"


def _refusals(r: LoadReport) -> list[tuple[str, Refused]]:
    pairs = (
        ("refused at the ERP extract", r.extract_refused),
        ("kept out before sending", r.not_sent),
        ("refused by the vendor", r.vendor_refused),
        ("still refused by Pixee", r.still_failing),
    )
    return [(label, x) for label, x in pairs if x is not None and x.count]


def _load_lines(r: LoadReport) -> list[str]:
    lines = [f"- **{_traffic(r)}**"]
    if r.requests_to:
        lines.append(f"- requests to: {r.requests_to}")
    if r.cadence:
        lines.append(f"- cadence: {r.cadence}")
    if r.error:
        lines.append(f"- FAILED: {r.error}")
    for label, refused in _refusals(r):
        line = f"- {label}: {refused.count}{_in(refused)}"
        lines.append(line + (f": {_reasons(refused)}" if refused.reasons else ""))
    if r.carried_forward:
        lines.append(f"- carried forward: {r.carried_forward} row(s) (their item kept)")
    if r.held_back:
        lines.append(f"- removals held back by the safeguard: {r.held_back}")
    lines += [f"- {fact}" for fact in r.facts]
    return lines


def _count(refused: Refused | None) -> int:
    return refused.count if refused else 0


def markdown(report: SyncReport) -> str:
    """The whole report: a table of the loads, then one section per vendor, each ending with
    its next step."""
    status = "every load ran" if report.ok else "a step FAILED"
    lines = [
        f"# {report.job} {report.day}",
        "",
        f"Run `{report.run_id}`: {status}; {report.wrote} write request(s) and "
        f"{report.requests - report.wrote} read request(s) in all.",
        "",
        "| vendor | decision | sent | refused at extract | kept out | refused by vendor "
        "| carried forward | writes | reads |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in report.vendors:
        for r in v.loads:
            name = v.vendor.title if len(v.loads) == 1 else f"{v.vendor.title} ({r.load.asset})"
            lines.append(
                f"| {name} | {r.decision} | {r.sent} | {_count(r.extract_refused)} | "
                f"{_count(r.not_sent)} | {_count(r.vendor_refused)} | {r.carried_forward} | "
                f"{r.writes} | {r.reads} |"
            )
    if report.not_ended:
        lines += ["", f"Steps still running when this was written: {', '.join(report.not_ended)}"]
    if report.other_failures:
        lines += ["", "Failed before the loads:", ""]
        lines += [f"- `{a}`: {m}" for a, m in report.other_failures.items()]
    for v in report.vendors:
        lines += ["", f"## {v.vendor.title}", ""]
        for r in v.loads:
            if len(v.loads) > 1:
                lines += [f"### `{r.load.asset}`", ""]
            lines += _load_lines(r) + [""]
        if v.checks_failed:
            lines += ["Checks that did not pass:", ""]
            lines += [
                f"- `{c.asset}` `{c.name}` ({c.severity}): {c.description or 'failed'}"
                for c in v.checks_failed
            ]
            lines.append("")
        lines += ["**Next step:**", ""]
        lines += [f"- {step.text}" for step in v.next_steps]
    return "\n".join(lines) + "\n"


def _short(path: str, base: Path | None) -> str:
    if base is not None:
        try:
            return str(Path(path).relative_to(base))
        except ValueError:
            pass
    return path


def summary(report: SyncReport, *, base: Path | None = None, width: int = 200) -> list[str]:
    """A screenful for the terminal: two lines per load (what it did, the cadence decision),
    the rejects files with their reasons, and the next steps, alike ones said once (the report
    holds the configs). Paths relative to `base`."""
    status = "succeeded" if report.ok else "FAILED"
    reads = report.requests - report.wrote
    wrote = f"{report.wrote} write request(s)" if report.wrote else "writes nothing"
    lines = [
        f"{report.job} of {report.day} {status} (run {report.run_id[:8]}): {wrote}, "
        f"{reads} read request(s)"
    ]
    lines += [f"  FAILED {a}: {_short_ids(m)}" for a, m in report.other_failures.items()]
    files: dict[str, tuple[str, ...]] = {}
    for v in report.vendors:
        for r in v.loads:
            name = v.vendor.title
            if len(v.loads) > 1:
                name += f" {r.load.endpoint.operation.value}"
            head = _traffic(r)
            if refused := [f"{x.count} {label}" for label, x in _refusals(r)]:
                head += f"; {', '.join(refused)}"
            lines.append(f"  {name:<18} {head}")
            if r.cadence:
                lines.append(f"  {'':<18} cadence: {_short_ids(r.cadence)}")
            if r.error:
                lines.append(f"  {'':<18} FAILED: {_short_ids(r.error)}")
            for _label, x in _refusals(r):
                for path in x.files:
                    files[path] = tuple(reason for reason, _n in x.reasons)
    steps = [s for v in report.vendors for s in v.next_steps]
    if files:
        lines.append("refused rows, and why (correct them in the ERP; the next drop carries them):")
        for path, reasons in files.items():
            lines.append(_clip(f"  {_short(path, base)}: {'; '.join(reasons)}", width))
    told = [s.text for s in steps if s.kind not in ("fix", "already_sent", "none", "shortfall")]
    if already := [r.load.asset for v in report.vendors for r in v.loads if _already_sent(r)]:
        told.append(
            f"already sent today: {', '.join(already)}: nothing to do; to send the day again on "
            "purpose, launch it with force and a reason (config in the report)"
        )
    lines.append("next:" if told else "next: nothing to do")
    for text in dict.fromkeys(told):
        head, _, rest = text.partition("\n")
        line = head.replace("`", "") + (" (config in the report)" if "```" in rest else "")
        if base is not None:
            line = line.replace(f"{base}/", "")
        lines.append(_clip(f"  - {line}", width))
    return lines


def _already_sent(r: LoadReport) -> bool:
    return not _is_read(r) and r.decision == "skipped" and "already" in r.cadence


def _short_ids(text: str) -> str:
    """Run ids as the UI's run list shows them (8 characters)."""
    return _RUN_ID.sub(lambda m: m.group(0)[:8], text)


def _clip(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."
