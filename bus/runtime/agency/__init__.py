"""The agency SDK: what a state agency (or the Mechanism itself) uses to speak on the bus.

``async with await AgencyClient.connect(url, "gro.government") as client:`` reads the
agency's requests (``client.requests()``, each an ``IncomingRequest`` with the steps the
agency can take on it: acknowledge, accept, decline with a reason, answer provisionally,
commit) and sends what its people decide. It needs only nats-py, pydantic and nkeys besides
the contract (``schemas``) and the domain rules (``bus.domain``).
"""

from bus.runtime.agency.client import AgencyClient
from bus.runtime.agency.errors import AgencyError, AgencyPermissionError
from bus.runtime.agency.incoming import IncomingRequest
from bus.runtime.agency.replies import CLIENT_NAME, delivery_receipt, reply_from

__all__ = [
    "CLIENT_NAME",
    "AgencyClient",
    "AgencyError",
    "AgencyPermissionError",
    "IncomingRequest",
    "delivery_receipt",
    "reply_from",
]
