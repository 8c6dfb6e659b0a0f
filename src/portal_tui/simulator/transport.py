"""The in-process httpx transport: the simulator without sockets.

``httpx.AsyncClient(transport=sim.transport(), base_url="http://simulator.local/api")``
talks to :class:`~portal_tui.simulator.core.Simulator` directly. Faults show
up as a real network would show them to httpx: refused → ``ConnectError``,
dropped before the response → ``RemoteProtocolError``, dropped mid-body →
``ReadError`` while the body is read, trickle → a body that arrives slowly (on
the simulator's clock), hang → a request that never completes.

httpx's own timeouts are enforced by its network layer, which this transport
replaces: bound calls with ``clock.timeout(...)`` (the fetcher does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from portal_tui.simulator.core import Delivery, SimRequest, SimResponse, Simulator
from portal_tui.vocabulary.clock import Clock


class SimulatorTransport(httpx.AsyncBaseTransport):
    """Serves httpx requests from a :class:`Simulator` in the same event loop."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """One request: build a :class:`SimRequest`, map the :class:`SimResponse` back."""
        body = await request.aread()
        url = request.url
        sim_request = SimRequest(
            method=request.method,
            path=url.path,
            query=dict(url.params.items()),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            origin=f"{url.scheme}://{url.netloc.decode('ascii')}",
        )
        response = await self.simulator.handle(sim_request)
        if response.delivery is Delivery.REFUSE:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if response.delivery is Delivery.RESET and response.reset_after is None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        headers = dict(response.headers)
        headers["Content-Length"] = str(len(response.body))
        return httpx.Response(
            response.status,
            headers=headers,
            stream=_SimStream(response, self.simulator.clock, request),
            request=request,
            extensions={"reason_phrase": response.reason.encode()} if response.reason else None,
        )


class _SimStream(httpx.AsyncByteStream):
    """A response body that may trickle or break part-way, like a socket would."""

    def __init__(self, response: SimResponse, clock: Clock, request: httpx.Request) -> None:
        self._response = response
        self._clock = clock
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        response = self._response
        body = response.body
        if response.delivery is Delivery.RESET and response.reset_after is not None:
            if response.reset_after:
                yield body[: response.reset_after]
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=self._request)
        trickle = response.trickle
        if trickle is None:
            if body:
                yield body
            return
        for start in range(0, len(body), trickle.chunk):
            piece = body[start : start + trickle.chunk]
            await self._clock.sleep(len(piece) / trickle.bytes_per_second)
            yield piece

    async def aclose(self) -> None:
        """Nothing to release."""
