"""The optional monitoring endpoint (config `health`): GET /health and GET /metrics on the loopback
interface, answered from a snapshot the daemon gathers on each request."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web
from loguru import logger

from bot.metrics import Snapshot, health_json, prometheus_text

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HealthServer:
    def __init__(self, host: str, port: int, snapshot: Callable[[], Awaitable[Snapshot]]) -> None:
        self._host = host
        self._port = port
        self._snapshot = snapshot
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Binds or raises OSError (the port taken): the caller decides whether that stops the start."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        logger.info("health endpoint on http://{}:{}/health and /metrics", self._host, self._port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, _request: web.Request) -> web.Response:
        snap = await self._snapshot()
        return web.Response(
            text=json.dumps(health_json(snap)), status=200 if snap.healthy else 503, content_type="application/json"
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = prometheus_text(await self._snapshot())
        return web.Response(body=body.encode(), headers={"Content-Type": PROMETHEUS_TYPE})
