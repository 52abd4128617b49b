"""The three routes every long-running process serves, in the style of nats-server's /healthz:
``/healthz`` (the process's loop answers), ``/readyz`` (what it depends on is there: each
failing check named) and ``/metrics`` (Prometheus). A hub serves them on a port of its own,
inside its event loop; the bridge and the dashboard add them to their app, without login, as
they show no person, case or message."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.observability.scrape import CONTENT_TYPE, exposition
from adapters.observability.watched import MAX_PENDING, Watched

DEFAULT_LISTEN = "127.0.0.1:9464"  # Prometheus' customary port for an exporter of one's own


def routes(watched: Watched) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})  # answered at all: the loop is alive

    async def readyz(request: Request) -> Response:
        problems = await watched.problems()
        if problems:
            return JSONResponse({"status": "unavailable", "error": "; ".join(problems)}, 503)
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        return Response(await exposition(watched), media_type=CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


@dataclass(frozen=True)
class Listen:
    """Where a hub serves its health and metrics, and how much backlog it may have and be ready."""

    host: str
    port: int
    max_pending: int = MAX_PENDING
    # Not chosen by the operator (the default): when its port is taken (another home's `up` on
    # this machine), a free one is used and printed instead of refusing to start.
    or_free: bool = False

    @classmethod
    def parse(cls, address: str, max_pending: int = MAX_PENDING) -> Listen:
        """``HOST:PORT``, ``[v6]:PORT`` or ``:PORT`` (loopback); port 0 picks a free one."""
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"{address!r} is not HOST:PORT")
        return cls(host.strip("[]") or "127.0.0.1", int(port), max_pending)


class _InLoop(uvicorn.Server):
    """uvicorn inside a loop that already handles Ctrl-C and SIGTERM: it takes no signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(listen: Listen) -> socket.socket:
    """A socket listening on ``listen`` (an ``OSError`` if it cannot), before anything is
    served, so that port 0 can be said."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((listen.host, listen.port))
        except OSError as exc:
            if not (listen.or_free and exc.errno == errno.EADDRINUSE):
                raise
            sock.bind((listen.host, 0))
        sock.listen(128)  # connections wait in the queue until uvicorn accepts them
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def serving(sock: socket.socket, watched: Watched) -> AsyncIterator[str]:
    """Serve the three routes on ``sock`` while inside; yields the URL served."""
    config = uvicorn.Config(
        Starlette(routes=routes(watched)),
        log_config=None,  # the process's own logging stays as it is
        access_log=False,  # a scrape every few seconds is not news
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = _InLoop(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="health-and-metrics")
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    try:
        yield f"http://{shown}:{port}/"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        sock.close()
