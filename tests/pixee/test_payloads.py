from __future__ import annotations

import pandas as pd
import pytest

from pipelines.core.erp.contract import PRODUCTS
from pipelines.core.pixee.payloads import (
    MAX_BATCH,
    SENT_COLUMNS,
    batch_body,
    batches,
    build_products,
    content_hash,
    result_message,
)

# The exact bytes POST /products/batch carries for the conftest's three products: contract key
# order, numbers as JSON numbers, every missing/blank field left out (never null or "").
GOLDEN_BATCH_BODY = (
    '{"products":['
    '{"ean":"3760000000001","name":"Support TV mural fixe","brand_name":"KIMEX",'
    '"description":"<p>Acier</p>","short_description":"Fixe 37-75 pouces",'
    '"supplier_code":"KIMEX","reference":"KX-100","status":"active",'
    '"weight":1.5,"width":60.0,"height":40.0,"depth":2.5,"unit_of_measure":"unit",'
    '"external_id":"ERP-1","category_id":"7d1c1f8e-2f4b-4c1e-9a51-0c9f1d5e6a10",'
    '"upc":"012345678905","gtin":"03760000000001","asin":"B000000001","url_slug":"support-tv"},'
    '{"ean":"96385074","name":"Câble HDMI 2 m","status":"inactive","weight":0.2},'
    '{"ean":"4006381333931","name":"Stabilo","depth":0.0}'
    "]}"
).encode()


def test_three_products_build_the_golden_batch_body(three_products: pd.DataFrame) -> None:
    products = build_products(three_products)
    assert batch_body(products) == GOLDEN_BATCH_BODY
    assert all(type(p["ean"]) is str for p in products)
    assert type(products[0]["weight"]) is float


def test_every_contract_product_column_is_a_pixee_field() -> None:
    assert tuple(PRODUCTS.names) == SENT_COLUMNS


def test_optional_columns_absent_from_the_frame_are_simply_not_sent() -> None:
    frame = pd.DataFrame({"ean": ["3760000000001"], "weight": [2.0]})
    assert build_products(frame) == [{"ean": "3760000000001", "weight": 2.0}]


def test_rows_without_ean_are_refused() -> None:
    with pytest.raises(ValueError, match="without an EAN"):
        build_products(pd.DataFrame({"ean": ["3760000000001", None]}))


def test_content_hash_ignores_key_order_and_sees_any_value_change() -> None:
    product = {"ean": "3760000000001", "name": "A", "weight": 1.5}
    assert content_hash(product) == content_hash(
        {"weight": 1.5, "name": "A", "ean": "3760000000001"}
    )
    assert content_hash(product) != content_hash({**product, "weight": 1.6})
    assert content_hash(product) != content_hash({"ean": "3760000000001", "name": "A"})
    assert len(content_hash(product)) == 64


def test_1201_products_make_batches_of_500_500_201() -> None:
    products = [{"ean": f"{i:013d}"} for i in range(1201)]
    chunks = batches(products)
    assert [len(c) for c in chunks] == [500, 500, 201]
    assert [p for c in chunks for p in c] == products


def test_batch_size_above_the_vendor_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="between 1 and 500"):
        batches([{"ean": "1"}], size=MAX_BATCH + 1)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"ean": "1", "status": "error", "error": "name is required"}, "name is required"),
        ({"ean": "1", "status": "error", "message": "bad weight"}, "bad weight"),
        ({"ean": "1", "status": "error", "errors": ["a", "b"]}, "a; b"),
        ({"ean": "1", "status": "skipped"}, "status 'skipped' without a message"),
    ],
)
def test_result_message_reads_each_failure_shape(item: dict, message: str) -> None:
    assert result_message(item) == message
