"""Baseline B, what a user would write instead: a plain FastStream pull subscriber with a
pydantic body model, FastStream's defaults otherwise (ack policy, INFO access logging)."""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from typing import IO

from faststream.nats import JStream, NatsBroker, PullSub
from nats.js import JetStreamContext
from pydantic import BaseModel

from bench.baseline_raw import raw_publisher
from bench.bodies import STREAM, Body
from bench.timing import Publish, Tracker
from bus.domain import subjects

LABEL = "B  FastStream + pydantic"
NOTE = (
    "B: FastStream NatsBroker, @subscriber(pull_sub=PullSub(batch_size=256)), durable, "
    "default ack policy (REJECT_ON_ERROR: ack after the handler returns), default INFO "
    "access logging (two lines a message, sent to a file as a service's log would be); "
    "latency ends when the handler returns"
)
ACCESS_LOGGERS = ("faststream", "faststream.access.nats")


class PatrolData(BaseModel):
    measures: list[str]
    beneficiary_role: str
    state: str
    municipality: str | None = None
    instructions: str


class PatrolRequest(BaseModel):
    """The envelope's shape, as a user would model it: no registry, no contract rules."""

    specversion: str
    id: str
    type: str
    source: str
    time: datetime
    subject: str
    datacontenttype: str
    recipients: list[str]
    urgency: str
    confidentiality: str
    data: PatrolData


class FastStreamConsumer:
    label = LABEL

    def __init__(self) -> None:
        self._broker: NatsBroker | None = None
        self._log: IO[str] | None = None
        self._redirected: list[tuple[logging.StreamHandler[IO[str]], IO[str]]] = []
        self.log_lines = 0

    def publisher(self, js: JetStreamContext, bodies: list[Body]) -> Publish:
        return raw_publisher(js, bodies)

    async def start(self, url: str, tracker: Tracker) -> None:
        broker = self._broker = NatsBroker(url)

        # declare=False only because the driver already declared the stream, identically for
        # every row; FastStream would otherwise create it with its own defaults.
        @broker.subscriber(
            subjects.ALL,
            stream=JStream(STREAM, declare=False),
            durable="plain",
            pull_sub=PullSub(batch_size=256),
        )
        async def handle(body: PatrolRequest) -> None:
            tracker.finished(body.id)

        await broker.connect()  # sets up FastStream's loggers, which start() then uses
        # Same loggers, level and format; only the destination is a file, not the terminal.
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in stop)
        for name in ACCESS_LOGGERS:
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler):
                    previous = handler.setStream(self._log)
                    if previous is not None:
                        self._redirected.append((handler, previous))
        await broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.stop()
        for redirected, stream in self._redirected:
            redirected.setStream(stream)
        # The next broker attaches a handler and a filter of its own to the access logger:
        # drop this one's, or a second run would log every message twice.
        access = logging.getLogger(ACCESS_LOGGERS[1])
        for handler in list(access.handlers):
            access.removeHandler(handler)
        for filt in list(access.filters):
            access.removeFilter(filt)
        if self._log is not None:
            self._log.seek(0)
            self.log_lines = sum(1 for _ in self._log)
            self._log.close()
