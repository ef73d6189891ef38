"""What Paqtana holds of the master inventory, and what the next PUT would change in it.

The PUT replaces the org's whole inventory, so an item absent from the body is DELETED in
Paqtana. Before every PUT the body is compared with the last snapshot Paqtana accepted (kept
here, row by row as sent): items added, removed and changed, per workspace; safeguards stop a
PUT that would remove too much; and a row the ERP sent with a data fault keeps its item in
Paqtana, its faulty fields carried forward from the last accepted snapshot.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa

from pipelines.core.erp.contract import ITEMS, ColumnType
from pipelines.core.paqtana.contract import INVENTORY_FIELD_NAMES, WORKSPACE_FIELD
from pipelines.core.rejects import REJECT_COLUMNS
from pipelines.core.shares import share_against_limit
from pipelines.core.state_db import metadata
from pipelines.core.sync.units import Safeguard, Unit, UnitAnswer

Key = tuple[str, str]  # (location, code)
CARRIED_FORWARD = "carried forward"
REMOVED_SAMPLE = 20

accepted_inventory = sa.Table(
    "paqtana_inventory_items",
    metadata,
    sa.Column("location", sa.String(200), primary_key=True),
    sa.Column("code", sa.String(200), primary_key=True),
    sa.Column("workspace", sa.String(200), nullable=False),
    sa.Column("row_hash", sa.String(64), nullable=False),
    sa.Column("row_json", sa.Text, nullable=False),  # the row exactly as Paqtana took it
)


def body_rows(body: bytes) -> dict[Key, dict[str, Any]]:
    """The PUT body's rows by (location, code)."""
    return {(r["location"], r["code"]): r for r in orjson.loads(body)["data"]}


def accepted_rows(engine: sa.Engine) -> dict[Key, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(accepted_inventory.c.row_json))
        return {(r["location"], r["code"]): r for r in (orjson.loads(x.row_json) for x in rows)}


def _row_hash(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class SnapshotDiff:
    """The PUT against what Paqtana holds: keys added, removed, changed; counts per workspace."""

    added: list[Key]
    removed: list[Key]
    changed: list[Key]
    held: int  # items Paqtana holds now
    held_by_workspace: Counter = field(default_factory=Counter)
    sent_by_workspace: Counter = field(default_factory=Counter)
    removed_by_workspace: Counter = field(default_factory=Counter)

    @property
    def removed_share(self) -> float:
        return len(self.removed) / self.held if self.held else 0.0

    @property
    def emptied_workspaces(self) -> list[str]:
        """Workspaces that hold items now and would hold none."""
        return sorted(
            w for w, n in self.held_by_workspace.items() if n and not self.sent_by_workspace[w]
        )

    def removed_sample(self) -> list[str]:
        return [f"{loc} + {code}" for loc, code in sorted(self.removed)[:REMOVED_SAMPLE]]

    def by_workspace(self) -> dict[str, dict[str, int]]:
        spaces = sorted(set(self.held_by_workspace) | set(self.sent_by_workspace))
        return {
            w: {
                "held": self.held_by_workspace[w],
                "sent": self.sent_by_workspace[w],
                "removed": self.removed_by_workspace[w],
            }
            for w in spaces
        }


def diff_snapshot(sent: Mapping[Key, dict], held: Mapping[Key, dict]) -> SnapshotDiff:
    removed = [k for k in held if k not in sent]
    return SnapshotDiff(
        added=[k for k in sent if k not in held],
        removed=removed,
        changed=[k for k in sent if k in held and _row_hash(sent[k]) != _row_hash(held[k])],
        held=len(held),
        held_by_workspace=Counter(r[WORKSPACE_FIELD] for r in held.values()),
        sent_by_workspace=Counter(r[WORKSPACE_FIELD] for r in sent.values()),
        removed_by_workspace=Counter(held[k][WORKSPACE_FIELD] for k in removed),
    )


def inventory_safeguards(
    diff: SnapshotDiff,
    *,
    refused: int,
    rows_in: int,
    max_removed_share: float,
    max_refused_share: float,
) -> list[Safeguard]:
    """What must stop a PUT before it is sent (a person lifts them with force and a reason)."""
    refused_share = refused / rows_in if rows_in else 0.0
    emptied = diff.emptied_workspaces
    return [
        Safeguard(
            "removed_share",
            diff.removed_share <= max_removed_share,
            f"{len(diff.removed)} of the {diff.held} items Paqtana holds would be removed: "
            + share_against_limit(diff.removed_share, max_removed_share, "MAX_REMOVED_SHARE"),
            {"removed": len(diff.removed), "held": diff.held},
        ),
        Safeguard(
            "workspace_emptied",
            not emptied,
            f"workspace(s) {', '.join(emptied)} hold items and would hold none"
            if emptied
            else "every workspace that holds items keeps some",
            {"emptied": emptied},
        ),
        Safeguard(
            "refused_share",
            refused_share <= max_refused_share,
            f"{refused} of {rows_in} item rows refused before sending: "
            + share_against_limit(refused_share, max_refused_share, "MAX_REJECT_SHARE"),
            {"refused": refused, "rows_in": rows_in},
        ),
    ]


class AcceptedInventoryWriter:
    """Paqtana's inventory is the body it took: replaced whole, with the PUT's acceptance."""

    def __init__(self, sent: Mapping[Key, dict]) -> None:
        self.sent = sent

    def unit_accepted(self, conn: sa.Connection, unit: Unit, answer: UnitAnswer) -> None:
        conn.execute(accepted_inventory.delete())
        rows = [
            {
                "location": loc,
                "code": code,
                "workspace": row[WORKSPACE_FIELD],
                "row_hash": _row_hash(row),
                "row_json": orjson.dumps(row).decode(),
            }
            for (loc, code), row in self.sent.items()
        ]
        if rows:
            conn.execute(accepted_inventory.insert(), rows)

    def send_succeeded(self, conn: sa.Connection) -> None:
        pass


@dataclass(frozen=True)
class CarriedForward:
    """Refused rows kept in the PUT: `items` in the items frame's shape (to build with the clean
    rows), `rejects` their entries for the rejects file, saying what was carried."""

    items: pd.DataFrame
    rejects: pd.DataFrame

    @property
    def rows(self) -> int:
        return len(self.items)


_WIRE = dict(INVENTORY_FIELD_NAMES)
_NUMBERS = frozenset(c.name for c in ITEMS.columns if c.type is ColumnType.NUMBER)


def carry_forward(
    refused: pd.DataFrame, rejects: pd.DataFrame, held: Mapping[Key, dict]
) -> CarriedForward:
    """For each refused item row whose item Paqtana holds: today's good fields, and the faulty
    ones (named by the rejects, by file and line) from the snapshot Paqtana accepted; a row
    whose every field is faulty is carried whole. Rows of items Paqtana never held, or without
    a usable location and code, stay refused."""
    if refused.empty or not held or rejects.empty:
        return CarriedForward(refused.iloc[0:0], rejects.iloc[0:0])
    faulty: dict[tuple[str, int], dict[str, tuple[str, str]]] = {}
    for row in rejects.itertuples(index=False):
        if pd.isna(row.line):
            continue
        faulty.setdefault((str(row.file), int(row.line)), {})[row.field] = (row.value, row.reason)
    carried, notes = [], []
    for row in refused.to_dict("records"):
        key = (row.get("location"), row.get("code"))
        where = (str(row.get("source_file")), int(row.get("source_line")))
        fields = faulty.get(where, {})
        if any(pd.isna(k) for k in key) or key not in held or not fields:
            continue
        if not set(fields) <= set(_WIRE) or {"location", "code"} & set(fields):
            continue  # a fault in the key, or one that is not a field Paqtana holds
        kept = held[key]
        for name, (value, reason) in fields.items():
            if name in _WIRE:
                row[name] = kept.get(_WIRE[name])
                notes.append(
                    {
                        "file": where[0],
                        "line": where[1],
                        "field": name,
                        "value": value,
                        "reason": f"{reason}; {CARRIED_FORWARD}: Paqtana keeps the item with "
                        f"its last accepted {name} ({kept.get(_WIRE[name])!r})",
                    }
                )
        carried.append(row)
    if not carried:
        return CarriedForward(refused.iloc[0:0], rejects.iloc[0:0])
    items = pd.DataFrame(carried, columns=refused.columns)
    for name in _NUMBERS & set(items.columns):
        items[name] = pd.to_numeric(items[name], errors="coerce").astype(np.float64)
    notes_frame = pd.DataFrame(notes, columns=REJECT_COLUMNS).astype({"line": "Int64"})
    return CarriedForward(items, notes_frame)
