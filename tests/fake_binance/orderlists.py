"""Order list (OCO / OTO / OTOCO / OPO / OPOCO) record and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .engine import Account, Order


@dataclass
class OrderList:
    """A stored order list and its member orders."""

    order_list_id: int
    kind: str  # OCO, OTO, OTOCO, OPO, OPOCO
    list_client_order_id: str
    symbol: str
    account: Account
    transaction_time: int
    orders: list[Order] = field(default_factory=list)
    canceled: bool = False

    @property
    def contingency_type(self) -> str:
        """OCO for pure OCO lists, OTO for every working/pending list."""
        return "OCO" if self.kind == "OCO" else "OTO"

    @property
    def is_open(self) -> bool:
        """Any member order still open."""
        return not self.canceled and any(o.is_open for o in self.orders)

    def status(self) -> dict[str, Any]:
        """Order list status fields (listStatusType / listOrderStatus)."""
        done = not self.is_open
        return {
            "orderListId": self.order_list_id,
            "contingencyType": self.contingency_type,
            "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
            "listOrderStatus": "ALL_DONE" if done else "EXECUTING",
            "listClientOrderId": self.list_client_order_id,
            "transactionTime": self.transaction_time,
            "symbol": self.symbol,
            "orders": [
                {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
                for o in self.orders
            ],
        }

    def placement(self, resp_type: str, transact_time: int) -> dict[str, Any]:
        """Placement response: status plus orderReports rendered per newOrderRespType."""
        out = self.status()
        out["orderReports"] = [o.render(resp_type, transact_time) for o in self.orders]
        return out
