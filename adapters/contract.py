"""The published contract: an AsyncAPI 3.0 document from FastStream's own generator, and the JSON
Schema of every message, for agencies that never import this code.

The FastStream broker built here is a description, never run: one subscriber per message an
agency receives (``mech.v1.to.{agency}.{kind}``) and one publisher per message an agency sends
(``mech.v1.from.{agency}.{kind}``), each carrying its pydantic model as the payload.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from faststream.nats import NatsBroker, PullSub
from faststream.specification import AsyncAPI

from bus.domain import subjects
from bus.domain.streams import StreamSpec, agency_consumer
from schemas.envelope import Envelope
from schemas.messages import MESSAGE_TYPES, export_json_schemas
from schemas.registry import FEDERAL_KINDS

CONTRACT_VERSION = "1.0.0"
ASYNCAPI_FILE = "asyncapi.json"
SCHEMAS_DIR = "schemas"
DEFAULT_DIR = Path("docs/contract")
GENERATED = (ASYNCAPI_FILE, SCHEMAS_DIR)
"""What ``export`` writes (and replaces); the hand-written README beside them is left alone."""

# Federal messages kept for the record on the sender's own subject, addressed to nobody.
FEDERAL_RECORD = frozenset(
    {
        "mech.tracking.board_attendance.v1",
        "mech.tracking.board_session_scheduled.v1",
        "mech.tracking.checkpoint.v1",
        "mech.tracking.iachr_measure.v1",
    }
)

AGENCY_PARAM = "{agency}"
EXAMPLE_DURABLE = agency_consumer("gro.government").durable

DESCRIPTION = f"""\
The v1 contract of mechbus, the coordination bus of Mexico's federal Mechanism for the
Protection of Human Rights Defenders and Journalists, seen from one agency.

Every message is a CloudEvents 1.0 JSON envelope (`specversion`, `id`, `type`, `source`,
`time`, `subject` = case reference, `data`) with mechbus extensions (`recipients`,
`correlationid`, `causationid`, `urgency`, `confidentiality`, `expires`). Subjects:
`{subjects.PREFIX}.to.<agency>.<kind>` for everything addressed to an agency,
`{subjects.PREFIX}.from.<agency>.<kind>` for everything an agency says; `<agency>` is the
two-token agency id (`gro.government`). All of them are stored in the JetStream stream
`{StreamSpec().name}`. Publish and wait for the PubAck, without a `Nats-Msg-Id` header (the
duplicate window is shared by every sender; the hub recognises a resend of the same bytes).
Ids are scoped by sender. An agency reads its inbox through the durable pull consumer
`agency-<agency id with dots as dashes>` (e.g. `{EXAMPLE_DURABLE}`), created by the hub with
the filter `{subjects.PREFIX}.to.<agency>.>`; it binds to it and never creates it. The JSON
Schema of each message is published beside this document (`schemas/<type>.schema.json`).
"""


def _receives(cls: type[Envelope]) -> bool:
    """Whether agencies receive this type in their inbox (sent by federal senders to them)."""
    return cls.senders <= FEDERAL_KINDS and cls.model_fields["type"].default not in FEDERAL_RECORD


def _handler(model: type[Envelope]) -> Callable[[Any], Awaitable[None]]:
    async def handle(message: Any) -> None:
        """Described only: the agency's own code handles this message."""

    handle.__annotations__ = {"message": model, "return": None}
    handle.__name__ = handle.__qualname__ = f"receive_{model.kind()}"
    return handle


def _doc(cls: type[Envelope]) -> str:
    text = " ".join((cls.__doc__ or "").split())
    return text if text and not text.startswith("CloudEvents 1.0") else ""


def describe(servers: str = "nats://bus.example.gob.mx:4222") -> NatsBroker:
    """A FastStream broker whose subscribers and publishers describe the bus (never started)."""
    stream = StreamSpec().name
    broker = NatsBroker(
        servers,
        description="The Mechanism's NATS JetStream server; every agency connects with its own "
        "nkey user and TLS.",
    )
    for type_name, cls in sorted(MESSAGE_TYPES.items()):
        kind = cls.kind()
        doc = _doc(cls)
        if _receives(cls):
            address = f"{subjects.PREFIX}.{subjects.Direction.TO.value}.{AGENCY_PARAM}.{kind}"
            description = (
                f"`{type_name}` addressed to one agency (family: {cls.family.value}). Read "
                f"through the agency's durable pull consumer on stream {stream}; ack the "
                "delivery once it is handled."
            )
            subscriber = broker.subscriber(
                address,
                stream=stream,
                pull_sub=PullSub(batch_size=32),
                title=f"to.{kind}",
                description=" ".join(filter(None, (description, doc))),
            )
            subscriber(_handler(cls))
        else:
            address = f"{subjects.PREFIX}.{subjects.Direction.FROM.value}.{AGENCY_PARAM}.{kind}"
            senders = ", ".join(sorted(k.value for k in cls.senders))
            description = (
                f"`{type_name}` sent by the agency named in the subject (family: "
                f"{cls.family.value}; sent by {senders} agencies). No Nats-Msg-Id header; "
                "`source` must equal that agency."
            )
            broker.publisher(
                address,
                title=f"from.{kind}",
                description=" ".join(filter(None, (description, doc))),
                schema=cls,
            )
    return broker


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document, as FastStream generates it."""
    spec = AsyncAPI(
        describe(),
        title="mechbus v1",
        version=CONTRACT_VERSION,
        description=DESCRIPTION,
        schema_version="3.0.0",
    ).to_specification()
    document: dict[str, Any] = spec.to_jsonable()
    return document


def export(directory: Path = DEFAULT_DIR) -> list[Path]:
    """Write ``asyncapi.json`` and ``schemas/<type>.schema.json`` (old files replaced)."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas_dir = directory / SCHEMAS_DIR
    if schemas_dir.exists():
        shutil.rmtree(schemas_dir)
    written = export_json_schemas(schemas_dir)
    path = directory / ASYNCAPI_FILE
    # FastStream collects channels in sets: sorted keys keep the file the same run after run
    text = json.dumps(asyncapi_document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
    return [path, *written]


def generated_files(directory: Path) -> dict[str, str]:
    """The generated part of a contract directory, by relative path (for the drift check)."""
    files = [directory / ASYNCAPI_FILE, *sorted((directory / SCHEMAS_DIR).glob("*"))]
    return {
        str(f.relative_to(directory)): f.read_text(encoding="utf-8") for f in files if f.is_file()
    }
