from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.core.pxm.enrichment import EXAMPLE_MAPPING, enrich_products, gtin_key
from tests.pixee.conftest import products_frame

MAPPING = dict(EXAMPLE_MAPPING)


def pxm(ean: str | None, updated: str = "2026-06-01T00:00:00Z", label: str = "EAN", **attrs):
    attributes = [] if ean is None else [{"id": 1, "label": label, "value": ean}]
    attributes += [{"id": 2, "label": k, "value": v} for k, v in attrs.items()]
    return {"id": ean, "name": "x", "updated_date": updated, "attributes": attributes}


def labelled(**by_field: str) -> dict[str, str]:
    """Attribute labels for the example mapping, by product field."""
    labels = {field: label for label, field in MAPPING.items()}
    return {labels[field]: value for field, value in by_field.items()}


def test_erp_values_win_and_pxm_fills_only_the_gaps() -> None:
    products = products_frame(
        [
            {"ean": "3760000000001", "description": "ERP desc", "url_slug": ""},
            {"ean": "3760000000002", "short_description": "   ", "category_id": "cat-erp"},
            {"ean": "3760000000003", "description": "only in ERP"},
        ]
    )
    before = products.copy()
    collections = [
        pxm("3760000000001", **labelled(description="PXM desc", url_slug="pxm-slug-1")),
        pxm(
            "3760000000002",
            **labelled(description="PXM desc 2", short_description="PXM short 2"),
            **labelled(category_id="cat-pxm"),
        ),
        pxm("9999999999994", **labelled(description="not our product")),
    ]
    result = enrich_products(products, collections, MAPPING)
    frame = result.frame
    assert frame["description"].tolist() == ["ERP desc", "PXM desc 2", "only in ERP"]
    assert frame["url_slug"].tolist()[0] == "pxm-slug-1"
    assert frame["short_description"].tolist()[1] == "PXM short 2"
    assert frame["category_id"].tolist()[1] == "cat-erp"
    assert frame["ean"].tolist() == ["3760000000001", "3760000000002", "3760000000003"]
    assert result.filled == {
        "description": 1,
        "short_description": 1,
        "url_slug": 1,
        "category_id": 0,
    }
    assert result.matched == 2
    assert result.pxm_eans == 3
    # Untouched columns, dtypes and the caller's frame stay as they were.
    pd.testing.assert_frame_equal(
        frame.drop(columns=list(MAPPING.values())), before.drop(columns=list(MAPPING.values()))
    )
    assert frame.dtypes.equals(before.dtypes)
    pd.testing.assert_frame_equal(products, before)


def test_a_spaced_pxm_ean_and_a_gtin_14_fallback_both_join() -> None:
    products = products_frame([{"ean": "3760000000001"}, {"ean": "96385074"}])
    collections = [
        pxm("3760 0000 0000 1", **labelled(description="spaced")),
        pxm("00000096385074", label="GTIN", **labelled(description="gtin-14 of an EAN-8")),
    ]
    result = enrich_products(products, collections, MAPPING)
    assert result.frame["description"].tolist() == ["spaced", "gtin-14 of an EAN-8"]
    assert result.matched == 2


def test_gtin_joins_when_the_ean_label_is_absent_and_the_ean_label_wins_over_it() -> None:
    products = products_frame([{"ean": "3760000000001"}, {"ean": "3760000000002"}])
    collection = pxm("3760000000002", label="Barcode", **labelled(description="via barcode"))
    collection["attributes"].append({"id": 3, "label": "GTIN", "value": "03760000000001"})
    # With the default label "EAN" absent, the GTIN decides.
    default = enrich_products(products, [collection], MAPPING)
    assert default.matched == 1
    assert default.frame["description"].tolist()[0] == "via barcode"
    assert default.frame["description"].isna().tolist()[1]
    # Named as the EAN label, "Barcode" wins over the GTIN of the same collection.
    renamed = enrich_products(products, [collection], MAPPING, ean_label="barcode")
    assert renamed.frame["description"].isna().tolist() == [True, False]
    assert renamed.frame["description"].tolist()[1] == "via barcode"


def test_with_two_collections_per_ean_the_latest_value_wins_per_field() -> None:
    products = products_frame([{"ean": "3760000000001"}])
    older = pxm(
        "3760000000001",
        updated="2026-05-01T00:00:00Z",
        **labelled(description="old desc", url_slug="old-slug"),
    )
    newer = pxm("3760000000001", updated="2026-06-01T00:00:00Z", **labelled(description="new"))
    result = enrich_products(products, [newer, older], MAPPING)
    assert result.frame["description"].tolist() == ["new"]
    assert result.frame["url_slug"].tolist() == ["old-slug"]  # the newer one has none
    assert result.duplicate_eans == 1
    assert result.matched == 1


def test_number_fields_take_only_numeric_pxm_values_and_keep_an_erp_zero() -> None:
    products = products_frame(
        [
            {"ean": "3760000000001"},
            {"ean": "3760000000002"},
            {"ean": "3760000000003", "weight": 0.0},
        ]
    )
    collections = [
        pxm("3760000000001", **{"Weight (kg)": "1.25"}),
        pxm("3760000000002", **{"Weight (kg)": "heavy"}),
        pxm("3760000000003", **{"Weight (kg)": 9}),
    ]
    result = enrich_products(products, collections, {" weight (KG) ": "weight"})
    assert result.frame["weight"].tolist()[0] == 1.25
    assert np.isnan(result.frame["weight"].tolist()[1])
    assert result.frame["weight"].tolist()[2] == 0.0
    assert result.frame["weight"].dtype == np.float64
    assert result.filled == {"weight": 1}


def test_list_and_object_attribute_values_become_text() -> None:
    products = products_frame([{"ean": "3760000000001"}, {"ean": "3760000000002"}])
    collections = [
        pxm("3760000000001", **labelled(description=["Steel", " ", "Black"])),
        pxm("3760000000002", **labelled(description={"id": 4, "value": "Oak"})),
    ]
    result = enrich_products(products, collections, MAPPING)
    assert result.frame["description"].tolist() == ["Steel, Black", "Oak"]


def test_collections_without_attributes_or_ean_change_nothing() -> None:
    products = products_frame([{"ean": "3760000000001"}, {"ean": ""}])
    collections = [pxm(None, **labelled(description="no ean")), {"id": 5, "name": "bare"}]
    result = enrich_products(products, collections, MAPPING)
    assert result.matched == 0
    assert set(result.filled.values()) == {0}
    pd.testing.assert_frame_equal(result.frame, products)
    assert enrich_products(products, [], MAPPING).matched == 0


def test_gtin_key_pads_to_14_digits_and_drops_unusable_values() -> None:
    keys = gtin_key(pd.Series(["3760000000001", "96385074", " 0376 0000 00000 1", "", None, "x"]))
    assert keys.tolist()[:3] == ["03760000000001", "00000096385074", "03760000000001"]
    assert keys.isna().tolist()[3:] == [True, True, True]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"Colour": "colour"}, "'colour' (from label 'Colour'), which is not a products column"),
        ({"EAN": "ean"}, "may not fill 'ean'"),
        ({"Desc": "description", "desc ": "short_description"}, "names the label 'desc ' twice"),
        ({"Desc": "description", "Long": "description"}, "from both 'Desc' and 'Long'"),
        ({}, "mapping is empty"),
    ],
)
def test_a_bad_mapping_fails_naming_the_mistake(mapping: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="PXM") as raised:
        enrich_products(products_frame([{"ean": "3760000000001"}]), [], mapping)
    assert message in str(raised.value)
