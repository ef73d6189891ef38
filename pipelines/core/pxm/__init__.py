"""Pattern PXM (Amplifi): the read-only client, the local catalog cache that consumers read
instead of PXM, and the enrichment of ERP products from PXM attributes."""

from pipelines.core.pxm.cache import (
    CacheMeta,
    CatalogCache,
    CatalogCacheError,
    CatalogCacheMissingError,
    read_catalog_cache,
    write_catalog_cache,
)
from pipelines.core.pxm.client import (
    DEFAULT_BASE_URL,
    CatalogRead,
    PxmAuthError,
    PxmClient,
)
from pipelines.core.pxm.enrichment import (
    DEFAULT_EAN_LABEL,
    EnrichmentResult,
    enrich_products,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_EAN_LABEL",
    "CacheMeta",
    "CatalogCache",
    "CatalogCacheError",
    "CatalogCacheMissingError",
    "CatalogRead",
    "EnrichmentResult",
    "PxmAuthError",
    "PxmClient",
    "enrich_products",
    "read_catalog_cache",
    "write_catalog_cache",
]
