"""A deterministic PXM catalog for the sandbox, matching the sample ERP products by EAN, so the
demo shows enrichment: PXM fills url_slug and category_id, which the sample ERP leaves empty.

`python -m erp_sandbox.samples.pxm_catalog [OUT_JSON]`
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from erp_sandbox.samples.erp_exports import N_ITEMS, sample_ean

CATEGORIES = ["Audio", "Lighting", "Storage", "Cables", "Mounts"]
NAMESPACE = uuid.UUID("5b0c3a52-7c1e-4c4e-9d4e-2f5d8c9a1b00")
ENRICHED = 150  # the first products of the sample have PXM content


def build_catalog() -> dict:
    categories = [
        {"id": i + 1, "name": name, "parent_id": None, "uuid": str(uuid.uuid5(NAMESPACE, name))}
        for i, name in enumerate(CATEGORIES)
    ]
    collections = []
    for n in range(1, min(ENRICHED, N_ITEMS) + 1):
        category = categories[n % len(categories)]
        collections.append(
            {
                "id": 10_000 + n,
                "name": f"PXM product {n}",
                "parent_id": None,
                "updated_date": "2026-11-01T00:00:00Z",
                "collection_type": "parent",
                "attributes": [
                    {"id": 1, "label": "EAN", "value": sample_ean(n)},
                    {"id": 2, "label": "URL Slug", "value": f"produit-{n:05d}"},
                    {"id": 3, "label": "Category Id", "value": category["uuid"]},
                    {"id": 4, "label": "Short Description", "value": f"PXM short text {n}"},
                ],
            }
        )
    attributes = [
        {"id": i, "label": label, "type": "text"}
        for i, label in enumerate(["EAN", "URL Slug", "Category Id", "Short Description"], 1)
    ]
    return {"collections": collections, "categories": categories, "attributes": attributes}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "sample_data/pxm_catalog.json")
    out.write_text(json.dumps(build_catalog(), indent=1) + "\n", encoding="utf-8")
    print(f"PXM sample catalog written to {out}")


if __name__ == "__main__":
    main()
