"""The WebSub callback of the desk's site: `/websub/{callback_id}`, on when `push.base_url`
is set. GET is a hub's check of intent, POST a push; both are answered by the pipeline's
`Push`, which lives as long as the site (its fetcher, extraction workers and channels).

A push is no visitor's: no token is asked, its signature (`X-Hub-Signature`, an HMAC
with the subscription's secret) vouches for it. One without a valid signature gets
202 and is ignored (W3C WebSub 8: a 2xx, so that a forger learns nothing); a body over
`push.max_bytes` gets 413; a callback id no subscription has gets 410 (push) or 404
(check).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from monitors.config import PUSH_PATH, Config
from monitors.delivery import SecretResolver
from monitors.pipeline import Push, open_pipeline
from monitors.store import Store


class Callback:
    """The callback's routes, answered once `running()` has opened the pipeline."""

    def __init__(self, config: Config, store: Store, secrets: SecretResolver | None) -> None:
        self.config = config
        self.store = store
        self.secrets = secrets
        self.push: Push | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The pipeline behind the callback, for as long as the block runs."""
        async with open_pipeline(self.config, self.store, self.secrets) as pipeline:
            self.push = pipeline.push
            try:
                yield
            finally:
                await pipeline.push.settled()
                self.push = None

    def routes(self) -> list[Route]:
        path = PUSH_PATH.replace("{callback_id}", "{callback_id:str}")
        return [
            Route(path, self.check, methods=["GET"]),
            Route(path, self.receive, methods=["POST"]),
        ]

    async def check(self, request: Request) -> Response:
        """A hub's check of intent: the challenge echoed, or 404."""
        push = self._push()
        callback_id, query = request.path_params["callback_id"], dict(request.query_params)
        status, body = await asyncio.to_thread(push.verify, callback_id, query)
        return PlainTextResponse(body, status)

    async def receive(self, request: Request) -> Response:
        """A push: 413 past the size cap, else what `Push.receive` says."""
        push = self._push()
        cap = self.config.push.max_bytes
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            return PlainTextResponse(f"over {cap} bytes", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                return PlainTextResponse(f"over {cap} bytes", 413)
        answer = await push.receive(
            request.path_params["callback_id"],
            request.headers.get("x-hub-signature"),
            bytes(body),
            request.headers.get("content-type"),
        )
        return PlainTextResponse(answer.outcome, answer.status)

    def _push(self) -> Push:
        if self.push is None:
            raise RuntimeError("the callback's pipeline is not running")
        return self.push
