"""A mechbus agency in plain nats-py, written only from the published contract (docs/contract/).

It imports nothing from mechbus: only nats-py and the standard library. It connects as one
agency with its nkey seed file, binds the durable pull consumer the hub made for it, and for each
request it receives publishes a delivery receipt and an institutional acknowledgement (JSON
built by hand, valid per docs/contract/schemas/), with no Nats-Msg-Id header (the hub recognises
a resend), waits for their PubAcks and only then acks the JetStream delivery.

    python agency.py --server nats://127.0.0.1:4222 --agency gro.government \
        --seed gro.government.nk --count 1 --timeout 60
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import ssl
import sys
import time
from datetime import UTC, datetime
from typing import Any

import nats

PREFIX = "mech.v1"
STREAM = "MECHBUS"
CLIENT = "mechbus-example-python/1.0"
# Requests that open a thread get a receipt and an acknowledgement; a recall or an update of a
# request (mech.request.recall.v1, mech.request.update.v1) gets neither.
OPENING = {
    "mech.request.protection_measure.v1",
    "mech.request.investigation.v1",
    "mech.request.information.v1",
    "mech.request.board_summons.v1",
    "mech.request.relocation.v1",
    "mech.request.implementation_meeting.v1",
}


def durable_name(agency: str) -> str:
    """The agency's durable consumer: ``agency-`` + its id with dots as dashes."""
    return "agency-" + agency.replace(".", "-")


def fixed_id(tag: str, request_id: str, agency: str) -> str:
    """A message id derived from the request and the agency: a redelivered request yields the
    same id again, which JetStream's duplicate window (and the hub's ledger) absorb."""
    digest = hashlib.sha256(f"{request_id}\0{agency}".encode()).hexdigest()
    return f"{tag}-{digest[:32]}"


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def reply(
    request: dict[str, Any], agency: str, type_: str, id_: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A response envelope (CloudEvents 1.0 + mechbus extensions) to ``request``."""
    message: dict[str, Any] = {
        "specversion": "1.0",
        "id": id_,
        "type": type_,
        "source": agency,
        "time": now(),
        "datacontenttype": "application/json",
        "correlationid": request.get("correlationid") or request["id"],
        "causationid": request["id"],
        "data": data,
    }
    if request.get("subject"):
        message["subject"] = request["subject"]  # the case reference
    return message


async def publish(js: Any, agency: str, message: dict[str, Any]) -> None:
    """Publish on the agency's own subject and wait for the PubAck.

    No Nats-Msg-Id: the stream's duplicate window is shared by every sender, so a header another
    agency could guess is one it could use first; a resend of the same bytes is recorded once.
    """
    kind = message["type"].split(".")[2]  # mech.response.acknowledgement.v1 -> acknowledgement
    subject = f"{PREFIX}.from.{agency}.{kind}"
    body = json.dumps(message, ensure_ascii=False).encode()
    await js.publish(subject, body)


async def run(args: argparse.Namespace) -> int:
    agency = args.agency
    options: dict[str, Any] = {
        "servers": args.server.split(","),
        "nkeys_seed": args.seed,
        "name": CLIENT,
        # replies may come only under the agency's own inbox prefix (its permissions say so)
        "inbox_prefix": f"_INBOX.{agency}".encode(),
        "max_reconnect_attempts": 3,
    }
    if args.ca:
        options["tls"] = ssl.create_default_context(cafile=args.ca)
    nc = await nats.connect(**options)
    js = nc.jetstream()
    # bind to the consumer the hub created; an agency never creates or changes it
    sub = await js.pull_subscribe_bind(
        durable_name(agency), STREAM, inbox_prefix=f"_INBOX.{agency}.".encode()
    )
    handled = 0
    deadline = time.monotonic() + args.timeout
    try:
        while handled < args.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print(f"timed out after {handled} of {args.count} requests", file=sys.stderr)
                return 1
            try:
                batch = await sub.fetch(batch=10, timeout=min(remaining, 2.0))
            except TimeoutError:  # nothing waiting yet
                continue
            for msg in batch:
                message = json.loads(msg.data)
                type_ = message.get("type", "")
                if type_ in OPENING:
                    receipt = reply(
                        message,
                        agency,
                        "mech.response.delivery_receipt.v1",
                        fixed_id("rcpt", message["id"], agency),
                        {"received_at": now(), "client": CLIENT},
                    )
                    await publish(js, agency, receipt)
                    ack = reply(
                        message,
                        agency,
                        "mech.response.acknowledgement.v1",
                        fixed_id("ack", message["id"], agency),
                        {"official_role": args.official_role},
                    )
                    await publish(js, agency, ack)
                    handled += 1
                    print(f"acknowledged {message['id']} ({type_})", flush=True)
                elif type_ == "mech.tracking.rejected.v1":
                    data = message.get("data", {})
                    print(f"rejected: {data.get('reason')}: {data.get('detail')}", file=sys.stderr)
                else:
                    print(f"received {type_} {message.get('id')}", flush=True)
                # ack the delivery only after our answers have their PubAcks
                await msg.ack()
    finally:
        await nc.drain()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="NATS URL(s), comma-separated")
    parser.add_argument("--agency", required=True, help="agency id, e.g. gro.government")
    parser.add_argument("--seed", required=True, help="the agency's nkey seed file")
    parser.add_argument("--ca", help="CA file when the server requires TLS")
    parser.add_argument("--count", type=int, default=1, help="exit after this many requests")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after seconds")
    parser.add_argument(
        "--official-role",
        default="Dirección de Derechos Humanos",
        help="the official role that acknowledges",
    )
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
