"""Reference data: groups, taxonomies and galaxy catalogs.

Groups and taxonomies are one small request each and are simply re-read. Galaxy
catalogs are large and rarely change: a catalog is downloaded only when the server's
count for it differs from the cache's, or, scoped to a GCN event, only the galaxies
inside its localization.
"""

from __future__ import annotations

from .context import SyncContext


def sync_groups(ctx: SyncContext) -> None:
    payload = ctx.client.get("/api/groups")
    with ctx.cache.write() as tx:
        ctx.summary.count("groups", tx.upsert_groups(payload))


def sync_taxonomies(ctx: SyncContext) -> None:
    taxonomies = ctx.client.get("/api/taxonomy")
    with ctx.cache.write() as tx:
        ctx.summary.count("taxonomies", tx.upsert_taxonomies(taxonomies))


def sync_galaxies(ctx: SyncContext) -> None:
    catalogs = ctx.client.get("/api/galaxy_catalog", {"catalogNamesOnly": "true"})
    counts = ctx.cache.galaxy_catalog_counts()
    for entry in catalogs:
        name, count = entry["catalog_name"], int(entry.get("catalog_count") or 0)
        if ctx.options.galaxy_catalog and name != ctx.options.galaxy_catalog:
            continue
        if ctx.options.gcn_event:
            _download_catalog(ctx, name, localized=True)
        elif counts.get(name) != count:
            _download_catalog(ctx, name, localized=False)


def _download_catalog(ctx: SyncContext, name: str, *, localized: bool) -> None:
    params = {"catalog_name": name}
    if localized:
        params |= {"localizationDateobs": ctx.options.gcn_event, "localizationCumprob": "0.95"}
    with ctx.progress.bar(f"galaxies {name}") as bar:
        pages = ctx.client.iter_pages(
            "/api/galaxy_catalog",
            params,
            list_key="galaxies",
            page_size=1000,
            concurrency=ctx.options.concurrency,
        )
        for page in pages:
            bar.total = page.total
            with ctx.cache.write() as tx:
                ctx.summary.count("galaxies", tx.upsert_galaxies(page.records, name))
            bar.update(len(page.records))
