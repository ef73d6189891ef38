"""Historical demand bodies: daily totals per location x code as `POST historical_demand` bodies
of at most the byte cap (measured), one object per series with its days in order, in bounded
memory. Paqtana merges by day + item, so the bodies can go in any number of requests."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.core import stage_clock
from pipelines.core.erp.contract import DEMAND
from pipelines.core.free_memory import release_free_memory
from pipelines.core.locations import WorkspaceMapping
from pipelines.core.ordered_pool import ordered_map
from pipelines.core.paqtana.columns import float_values, lexical_factorize, require_columns
from pipelines.core.paqtana.contract import DEFAULT_BODY_CAP_BYTES
from pipelines.core.paqtana.demand_rows import (
    Days,
    GroupRows,
    KeyLayout,
    datetime_values,
    group_rows,
)
from pipelines.core.paqtana.demand_text import (
    ENVELOPE_BYTES,
    BodyPacker,
    DemandChunk,
    DemandObjects,
    DemandText,
    JsonTexts,
    Tokens,
    demand_objects,
    encode_quantities,
)
from pipelines.core.paqtana.workspaces import OrgWorkspaces, reject_unsendable_locations
from pipelines.core.rejects import RejectCollector

__all__ = ["DEMAND_ROWS_PER_BUILD", "DemandChunk", "DemandChunks", "build_historical_demand_chunks"]


@dataclass(frozen=True)
class DemandChunks:
    """All demand bodies of one build, in send order, plus the rows that could not be sent.
    The same input and cap give the same bodies and hashes."""

    chunks: list[DemandChunk]
    rejects: pd.DataFrame
    cap_bytes: int
    # Distinct (location, code) series and daily values sent across all chunks.
    series: int
    values: int
    # Series larger than the cap on their own, sent as several date ranges.
    split_series: int

    @property
    def bodies(self) -> list[bytes]:
        return [c.body for c in self.chunks]

    @property
    def bytes_total(self) -> int:
        return sum(c.size_bytes for c in self.chunks)


# Rows of one build group (whole series). Two or three groups are in flight beside the bodies
# already packed, so this sets the build's share of the peak: measured at 10M rows, 250k gives
# 410-431 MB where 500k gave 437-453 MB, in the same time. Bodies stay full whatever the
# groups (a body takes objects of several groups).
DEMAND_ROWS_PER_BUILD = 250_000


def build_historical_demand_chunks(
    demand: pd.DataFrame,
    workspaces: WorkspaceMapping,
    cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
    *,
    org_workspaces: OrgWorkspaces | None = None,
    rows_per_build: int = DEMAND_ROWS_PER_BUILD,
) -> DemandChunks:
    """POST bodies of at most `cap_bytes` each (measured), one object per (location, code) with
    its days sorted, objects ordered by (location, code) within a group. A series is only split
    (by date) when it alone exceeds the cap. Bounded memory: whole series are split into groups
    (by a hash of the code) of about `rows_per_build` rows, built two groups at a time and packed
    in group order into full bodies; the JSON text is built by Arrow kernels, so Python work is
    per body and per distinct location/code, never per row.

    The frame is read once into integer columns and not kept: a caller that hands over its only
    reference (`build_historical_demand_chunks(staging.read_days(...), ...)`) lets the frame's
    memory go while the bodies are built (at 10M rows the frame is 210 MB, the bodies 184 MB)."""
    if cap_bytes <= ENVELOPE_BYTES:
        raise ValueError(f"cap_bytes={cap_bytes} leaves no room for any data")
    with stage_clock.stage("group"):
        columns = _DemandColumns(demand)
        del demand  # from here on only `columns` holds the frame's arrays, and lets them go
        rows = _DemandRows.prepare(columns, workspaces, org_workspaces, rows_per_build)
        del columns  # the reject collector's per-row masks go too (14 MB at 10M rows, if any)
    return rows.build(cap_bytes)


class _DemandColumns:
    """The demand frame's columns: the dates already as day offsets, the location and code
    columns and the quantity buffer as the frame holds them, plus the reject collector.
    `_DemandRows.prepare` encodes each and drops it."""

    def __init__(self, demand: pd.DataFrame) -> None:
        require_columns(demand, DEMAND.names, "demand")
        # Rejects name their source file and line when the frame carries them.
        sources = [c for c in ("source_file", "source_line") if c in demand.columns]
        self.collector = RejectCollector(demand[sources])
        # The dates become narrow day offsets here, and nothing else is made yet: the frame's
        # date column (80 MB at 10M rows) goes with the frame, before the other columns are
        # encoded (the build's peak is at its start).
        self.days: Days | None = Days.of(datetime_values(demand["date"]))
        self.location: pd.Series | None = demand["location"]
        self.code: pd.Series | None = demand["code"]
        self.quantity: np.ndarray | None = float_values(demand["quantity"])


@dataclass
class _DemandRows:
    """The sendable demand rows split into groups of whole series (each sorted when it is
    built), and the JSON text of each distinct location, code, workspace, day and quantity."""

    groups: deque[GroupRows]
    text: DemandText
    rejects: pd.DataFrame

    @classmethod
    def prepare(
        cls,
        columns: _DemandColumns,
        workspaces: WorkspaceMapping,
        org_workspaces: OrgWorkspaces | None,
        rows_per_build: int,
    ) -> _DemandRows:
        """Rows that cannot be sent go to `rejects` (first fault wins); the rest are split into
        groups, each sorted by (series, day) when it is built. Consumes `columns`."""
        collector, days = columns.collector, columns.days
        columns.days = None
        loc_rank, locations = lexical_factorize(columns.location)
        code_rank, codes = lexical_factorize(columns.code)
        columns.location = columns.code = None
        if days.missing is not None:
            collector.reject_missing(days.missing, "date")
        for rank, field_name in ((loc_rank, "location"), (code_rank, "code")):
            if len(rank) and rank.min() < 0:
                collector.reject_missing(rank < 0, field_name)
        quantity = columns.quantity
        columns.quantity = None
        if len(quantity) and not (np.isfinite(quantity.sum()) and quantity.min() >= 0):
            collector.reject(
                ~(np.isfinite(quantity) & (quantity >= 0)),
                "quantity",
                lambda rows, values=quantity: values[rows].astype(str),
                "quantity must be a finite number >= 0",
            )
        ws_codes = reject_unsendable_locations(
            collector, loc_rank, locations, workspaces, org_workspaces
        )
        quantity_codes, quantity_texts = encode_quantities(quantity)
        del quantity
        refused = collector.refused
        kept = len(days.offsets) - (0 if refused is None else int(refused.sum()))
        groups = max(-(-kept // rows_per_build), 1)
        # A hash of the code's text, not its position: the same series land in the same group
        # (and so the same bodies, with the same hashes for a resume) whatever the row order.
        # The extra last slot takes a missing code (-1), whose row is refused anyway.
        code_texts = np.asarray([str(c) for c in codes], dtype=object)
        code_group = np.append(
            (pd.util.hash_array(code_texts) % np.uint64(groups)).astype(np.int64)
            if groups > 1
            else np.zeros(len(codes), dtype=np.int64),
            0,
        )
        del code_texts
        layout = KeyLayout(groups, len(locations), len(codes), days.first, days.count)
        parts = deque(
            group_rows(
                layout,
                loc_rank,
                code_rank,
                days.offsets,
                code_group,
                refused,
                quantity_codes,
                None if quantity_texts is None else len(quantity_texts),
            )
        )
        del loc_rank, code_rank, days, refused, quantity_codes
        release_free_memory()  # the frame's pages and the split's, before the bodies grow
        first_day, last_day = layout.first_day, layout.first_day + layout.days - 1
        calendar = np.arange(first_day, last_day + 1, dtype=np.int64).view("datetime64[D]")
        text = DemandText(
            code_bits=layout.code_bits,
            day_bits=layout.day_bits,
            loc_json=JsonTexts.of(locations),
            code_json=JsonTexts.of(codes),
            ws_json=JsonTexts.of(ws_codes),
            days=Tokens.of(pa.array(calendar).cast(pa.string()), '","'),
            quantities=None if quantity_texts is None else Tokens.of(quantity_texts, ","),
        )
        return cls(groups=parts, text=text, rejects=collector.frame())

    def build(self, cap_bytes: int) -> DemandChunks:
        """The bodies of every group, packed in group order: a body may hold objects of two
        groups, so bodies stay full however small the groups. Two groups are built at a time
        (numpy and Arrow release the GIL); each group's rows are released once its objects are
        built."""
        # A body is the envelope plus its objects minus the last object's trailing comma.
        room = cap_bytes - ENVELOPE_BYTES + 1
        series = values = split_series = 0
        with BodyPacker(room) as packer:
            for built in ordered_map(lambda group: self._objects(group, room), _drain(self.groups)):
                if built is None:
                    continue
                series += built.series
                values += built.values
                split_series += built.split_series
                with stage_clock.stage("pack"):
                    packer.add(built)
                    del built
                    # The packed group's pages go back as the bodies grow (measured: 130 MB
                    # less peak at 10M rows, for a few milliseconds).
                    release_free_memory()
            with stage_clock.stage("pack"):
                chunks = packer.finish()
        return DemandChunks(chunks, self.rejects, cap_bytes, series, values, split_series)

    def _objects(self, group: GroupRows, room: int) -> DemandObjects | None:
        """The JSON objects of one group's rows, or None when it has no row: the group is
        sorted here, on the pool's thread, so two groups sort at a time beside the packing."""
        with stage_clock.stage("sort"):
            rows = group.sorted()
        with stage_clock.stage("serialise"):
            return demand_objects(rows, self.text, room)


def _drain(groups: deque[GroupRows]) -> Iterator[GroupRows]:
    """The groups, each removed from `groups` as it is handed out (so it is freed once built)."""
    while groups:
        yield groups.popleft()
