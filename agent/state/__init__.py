"""The state stage: the node's durable record of what it runs.

The names below load their module on first use, so `agent.state.atomic` (which
the image cache writes with) does not bring in the inventory and the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.state.inventory import Inventory, InventoryEntry
    from agent.state.store import NodeState, StateStore

_HOMES = {"Inventory": "inventory", "InventoryEntry": "inventory",
          "NodeState": "store", "StateStore": "store"}

__all__ = ["Inventory", "InventoryEntry", "NodeState", "StateStore"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
