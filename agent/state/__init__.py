"""The state stage: the node's durable record of what it runs."""

from agent.state.inventory import Inventory, InventoryEntry
from agent.state.store import NodeState, StateStore

__all__ = ["Inventory", "InventoryEntry", "NodeState", "StateStore"]
