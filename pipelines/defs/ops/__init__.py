"""Jobs a person launches by hand to correct or re-send: not part of the daily automation."""

from pipelines.defs.ops.pixee_patch_products import pixee_patch_products

OPS_JOBS = [pixee_patch_products]

__all__ = ["OPS_JOBS"]
