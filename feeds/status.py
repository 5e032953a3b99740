"""``/healthz`` and ``/metrics``: the service's own state, on the feed server.

Both read every source's run state (``source_health``) in the request thread pool
under ``STATE_TIMEOUT``, after the shared store check (``feeds.storeprobe``): during
an outage ``/healthz`` answers 503 naming storage within ``PROBE_TIMEOUT`` and
``/metrics`` says ``qkfeed_store_up 0``.  The documents themselves are built by
``feeds.health`` and ``feeds.metrics``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scraper.errors import StorageError
from scraper.logs import event, get_logger
from scraper.models import SourceHealth
from storage.offloop import StoreTimeout

from . import metrics as prom
from .conditional import NO_STORE, NOSNIFF
from .health import health_report, iso
from .history import add_history_counts

__all__ = ["STATE_TIMEOUT", "StatusEndpoints", "status_routes"]

log = get_logger("app")

STATE_TIMEOUT = 2.0  # seconds for the health endpoints' source health read


class StatusEndpoints:
    """The health and metrics routes; ``server`` is ``feeds.app._Server`` (its config,
    store, probe and request counters are reused)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    async def healthz(self, request: Request) -> Response:
        server = self.server
        reason = await server.probe.check(fresh=True)  # an outage shows in the very next answer
        health: list[SourceHealth] = []
        if reason is None:
            try:
                health = await self.source_health()
            except StorageError as exc:
                server.probe.mark_down(str(exc))
                reason = server.probe.reason
        if reason is not None:
            event(log, "healthz_unhealthy", logging.ERROR, reason=reason)
            document: dict[str, Any] = {"status": "unhealthy", "error": "the store cannot be used",
                                        "storage": reason}
            code = 503
        else:
            code, document = health_report(server.config, health)
            try:  # revisits, edits, removals per source (issue 12): never the reason for a 503
                await asyncio.wait_for(run_in_threadpool(add_history_counts, server.store, document), STATE_TIMEOUT)
            except (TimeoutError, StorageError) as exc:
                log.warning("healthz: history counts not read: %s", exc)
        document["checked_at"] = iso(datetime.now(UTC))
        return JSONResponse(
            document, status_code=code, headers={"Cache-Control": NO_STORE, **NOSNIFF}
        )

    async def source_health(self) -> list[SourceHealth]:
        """Every source's health, read in the request thread pool; StoreTimeout past STATE_TIMEOUT
        (the store just went down, or is too slow to call healthy)."""
        server = self.server
        read = asyncio.ensure_future(run_in_threadpool(server.store.source_health, list(server.config.sources)))
        done, _ = await asyncio.wait({read}, timeout=STATE_TIMEOUT)
        if not done:
            read.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved when it ends
            raise StoreTimeout(f"source health took more than {STATE_TIMEOUT:g} s")
        return read.result()

    async def metrics_text(self, request: Request) -> Response:
        server = self.server
        health: list[SourceHealth] = []
        store_up = await server.probe.check() is None
        if store_up:
            try:
                health = await self.source_health()
            except StorageError as exc:
                event(log, "store_unreadable", logging.ERROR, path="/metrics", error=str(exc))
                server.probe.mark_down(str(exc))
                store_up = False
        text = prom.exposition(server.metrics, health, store_up=store_up)
        return Response(
            text,
            headers={"Content-Type": prom.CONTENT_TYPE, "Cache-Control": NO_STORE, **NOSNIFF},
        )


def status_routes(endpoints: StatusEndpoints, methods: list[str]) -> list[Route]:
    """``/healthz`` and ``/metrics``."""
    return [
        Route("/healthz", endpoints.healthz, methods=methods, name="healthz"),
        Route("/metrics", endpoints.metrics_text, methods=methods, name="metrics"),
    ]
