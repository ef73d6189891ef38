"""What a sandbox starts with: credentials, limits, the PXM catalog, storage and armed faults.

Every default is a demo value, so `SandboxConfig()` serves a credential-less demo as is."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erp_sandbox.faults import FaultRule

PIXEE_READ_SCOPE = "ext:products:read"
PIXEE_WRITE_SCOPE = "ext:products:write"


@dataclass
class PaqtanaConfig:
    token: str = "sandbox-paqtana-token"
    org: str = "demo-org"
    # (name, code) pairs, the order GET /workspaces answers in.
    workspaces: list[tuple[str, str]] = field(
        default_factory=lambda: [("Main", "WS-MAIN"), ("North", "WS-NORTH"), ("South", "WS-SOUTH")]
    )
    max_body_bytes: int = 32 * 1024 * 1024

    @property
    def workspace_codes(self) -> frozenset[str]:
        return frozenset(code for _, code in self.workspaces)


@dataclass
class PixeeConfig:
    api_keys: dict[str, list[str]] = field(
        default_factory=lambda: {"pm_test_sandbox": [PIXEE_READ_SCOPE, PIXEE_WRITE_SCOPE]}
    )
    # The name GET /status reports per key; a key without one is reported by its prefix.
    api_key_names: dict[str, str] = field(
        default_factory=lambda: {"pm_test_sandbox": "ERP Sync Sandbox Key"}
    )
    read_per_minute: int = 1000
    write_per_minute: int = 100
    # The batch endpoint counts here (the vendor's "bulk create" limit).
    bulk_per_minute: int = 20
    version: str = "1.0"

    @property
    def limits(self) -> dict[str, int]:
        return {
            "read": self.read_per_minute,
            "write": self.write_per_minute,
            "bulk": self.bulk_per_minute,
        }


@dataclass
class PxmCatalog:
    """The read-only data PXM serves. Collections follow the public model: id, name, parent_id,
    updated_date, additional_title, region_ids, collection_type, attributes[{id, label, value}]."""

    collections: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    attributes: list[dict[str, Any]]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PxmCatalog:
        missing = [k for k in ("collections", "categories", "attributes") if k not in data]
        if missing:
            raise ValueError(f"PXM catalog lacks keys {missing}")
        for key in ("collections", "categories", "attributes"):
            items = data[key]
            if not isinstance(items, list) or not all(
                isinstance(i, dict) and "id" in i for i in items
            ):
                raise ValueError(f"PXM catalog {key!r} must be a list of objects with an id")
        return cls(
            collections=[_complete_collection(c) for c in data["collections"]],
            categories=[dict(c) for c in data["categories"]],
            attributes=[dict(a) for a in data["attributes"]],
        )

    @classmethod
    def from_json_file(cls, path: str | Path) -> PxmCatalog:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _complete_collection(collection: dict[str, Any]) -> dict[str, Any]:
    """Every documented key present, so clients meet the full shape even from a terse file."""
    return {
        "id": collection["id"],
        "name": collection.get("name"),
        "parent_id": collection.get("parent_id"),
        "updated_date": collection.get("updated_date"),
        "additional_title": collection.get("additional_title"),
        "region_ids": list(collection.get("region_ids") or []),
        "collection_type": collection.get("collection_type", "parent"),
        "attributes": list(collection.get("attributes") or []),
        **{k: v for k, v in collection.items() if k not in _COLLECTION_KEYS},
    }


_COLLECTION_KEYS = frozenset(
    {
        "id",
        "name",
        "parent_id",
        "updated_date",
        "additional_title",
        "region_ids",
        "collection_type",
        "attributes",
    }
)


def _collection(
    cid: int, name: str, parent_id: int | None, title: str, color: str, size: str
) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "parent_id": parent_id,
        "updated_date": "2026-06-18T08:00:00Z",
        "additional_title": title,
        "region_ids": [1, 2] if parent_id is None else [1],
        "collection_type": "parent" if parent_id is None else "variant",
        "attributes": [
            {"id": 11, "label": "Color", "value": color},
            {"id": 12, "label": "Size", "value": size},
        ],
    }


def default_pxm_catalog() -> PxmCatalog:
    """Two parents with variants, a small category tree and the attributes they use: enough
    for paging (7 collections) and parent/variant handling."""
    return PxmCatalog(
        collections=[
            _collection(1001, "Trail Jacket", None, "Waterproof shell", "", ""),
            _collection(1002, "Trail Jacket Red S", 1001, "Red, small", "Red", "S"),
            _collection(1003, "Trail Jacket Red M", 1001, "Red, medium", "Red", "M"),
            _collection(1004, "Trail Jacket Blue M", 1001, "Blue, medium", "Blue", "M"),
            _collection(2001, "Camp Mug", None, "Enamel mug 350 ml", "", ""),
            _collection(2002, "Camp Mug White", 2001, "White", "White", "350 ml"),
            _collection(2003, "Camp Mug Green", 2001, "Green", "Green", "350 ml"),
        ],
        categories=[
            {"id": 1, "name": "Outdoor", "parent_id": None},
            {"id": 2, "name": "Clothing", "parent_id": 1},
            {"id": 3, "name": "Kitchen", "parent_id": 1},
        ],
        attributes=[
            {"id": 11, "label": "Color", "type": "text"},
            {"id": 12, "label": "Size", "type": "text"},
            {"id": 13, "label": "Material", "type": "text"},
        ],
    )


@dataclass
class PxmConfig:
    client_id: str = "sandbox-pxm-client"
    client_secret: str = "sandbox-pxm-secret"
    token_ttl_s: int = 3600
    catalog: PxmCatalog = field(default_factory=default_pxm_catalog)


@dataclass
class SandboxConfig:
    paqtana: PaqtanaConfig = field(default_factory=PaqtanaConfig)
    pixee: PixeeConfig = field(default_factory=PixeeConfig)
    pxm: PxmConfig = field(default_factory=PxmConfig)
    # A SQLite file (state survives restarts) or ":memory:".
    storage: str = ":memory:"
    # Armed when the sandbox starts, before any test adds its own.
    faults: list[FaultRule] = field(default_factory=list)
