"""The Prometheus exposition: what bus.runtime.metrics counted as it happened, and the gauges
read at scrape time (the ledger's unanswered requests by state and its outbox, the hub's lease
and its consumer's figures). Everything is fetched first, then rendered from that snapshot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js.api import ConsumerInfo
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from adapters.observability.watched import Watched
from adapters.readmodel.backlog import Owed, outbox_waiting, owed_by_state
from bus.runtime import metrics

log = logging.getLogger("mechbus.observability")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, eq=False)  # a registry keys its collectors by identity
class Snapshot:
    """The scrape-time figures of one scrape (a prometheus_client collector)."""

    owed: list[Owed] | None = None
    waiting: int | None = None
    consumer: ConsumerInfo | None = None
    holder: str | None = None
    at: datetime | None = None

    def collect(self) -> Iterator[Metric]:
        yield from self._ledger()
        yield from self._consumer()
        if self.holder is not None:
            holder = _gauge(metrics.LEASE_HOLDER, ["holder"])
            holder.add_metric([self.holder], 1)
            yield holder

    def _ledger(self) -> Iterator[Metric]:
        if self.owed is not None:
            count = _gauge(metrics.REQUESTS_UNANSWERED, ["state"])
            oldest = _gauge(metrics.REQUESTS_UNANSWERED_OLDEST, ["state"])
            now = self.at or datetime.now(UTC)
            for owed in self.owed:
                count.add_metric([owed.state], owed.requests)
                if owed.oldest_sent_at is not None:
                    age = max((now - owed.oldest_sent_at).total_seconds(), 0.0)
                    oldest.add_metric([owed.state], age)
            yield count
            yield oldest
        if self.waiting is not None:
            waiting = _gauge(metrics.OUTBOX_WAITING)
            waiting.add_metric([], self.waiting)
            yield waiting

    def _consumer(self) -> Iterator[Metric]:
        if self.consumer is None:
            return
        figures = {
            metrics.CONSUMER_PENDING: self.consumer.num_pending,
            metrics.CONSUMER_ACK_PENDING: self.consumer.num_ack_pending,
            metrics.CONSUMER_REDELIVERED: self.consumer.num_redelivered,
        }
        for name, value in figures.items():
            gauge = _gauge(name)
            gauge.add_metric([], value or 0)
            yield gauge


def _gauge(name: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, metrics.SCRAPED[name], labels=labels)


async def exposition(watched: Watched) -> bytes:
    """The text /metrics answers: the process's own metrics, then this scrape's figures."""
    consumer = await watched.consumer()
    owed, waiting = await _ledger_figures(watched)
    holder = watched.status.holder if watched.status is not None else None
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(Snapshot(owed, waiting, consumer, holder, datetime.now(UTC)))
    return generate_latest(REGISTRY) + generate_latest(scraped)


async def _ledger_figures(watched: Watched) -> tuple[list[Owed] | None, int | None]:
    if watched.ledger is None or not watched.ledger_gauges:
        return None, None
    try:
        return await asyncio.wait_for(asyncio.to_thread(_read, watched), watched.timeout)
    except Exception as exc:  # a scrape without the ledger's figures; /readyz says why
        log.warning("ledger figures unavailable: %s", type(exc).__name__)
        return None, None


def _read(watched: Watched) -> tuple[list[Owed], int]:
    assert watched.ledger is not None
    with watched.ledger.session() as session:
        return owed_by_state(session), outbox_waiting(session)
