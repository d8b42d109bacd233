"""Independent fake of the Binance Spot REST API (``/api/v3``) for tests.

Public API: :func:`running_fake`, :class:`Exchange`, :data:`ENDPOINTS`.
"""

from .endpoints import ENDPOINTS, Endpoint
from .exchange import Exchange
from .faults import FAULT_KINDS, Fault
from .records import Reply, RequestRecord
from .server import RunningFake, running_fake

__all__ = ["ENDPOINTS", "FAULT_KINDS", "Endpoint", "Exchange", "Fault", "Reply", "RequestRecord", "RunningFake", "running_fake"]
