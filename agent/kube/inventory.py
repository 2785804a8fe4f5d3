"""The inventory kept in the cluster too: ConfigMap `edgesync-inventory-<node>`.

A reinstalled agent with an empty state dir reads it to know what it owns.
It is written only when its content changes, so a no-op sync does not touch it.
"""

from __future__ import annotations

import json

from agent.errors import KubeError
from agent.kube.client import ApiError
from agent.kube.manager import MANAGED_BY_LABEL, ResourceManager
from agent.state.inventory import Inventory

INVENTORY_LABEL = "edgesync.io/inventory"


def configmap_name(mgr: ResourceManager) -> str:
    return f"edgesync-inventory-{mgr.owner}".lower()[:253]


def read_cluster_inventory(mgr: ResourceManager, namespace: str) -> Inventory | None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/{configmap_name(mgr)}"
    try:
        cm = mgr.client.request("GET", path, where="cluster inventory")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    raw = (cm.get("data") or {}).get("inventory")
    if not raw:
        return None
    try:
        return Inventory.from_json(json.loads(raw))
    except (ValueError, TypeError, KeyError) as exc:
        raise KubeError(f"inventory ConfigMap is malformed: {exc}",
                        where=f"configmap/{namespace}/{configmap_name(mgr)}") from exc


def write_cluster_inventory(mgr: ResourceManager, namespace: str, inventory: Inventory,
                            current: Inventory | None) -> bool:
    """Store the inventory (no fingerprints: they are the node's cache); False if unchanged."""
    slim = Inventory(inventory.revision, tuple(sorted(inventory.entries)))
    if current is not None and Inventory(current.revision,
                                         tuple(sorted(current.entries))) == slim:
        return False
    labels = {MANAGED_BY_LABEL: "edgesync", INVENTORY_LABEL: mgr.owner}
    ns = {"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": namespace, "labels": {MANAGED_BY_LABEL: "edgesync"}}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": configmap_name(mgr), "namespace": namespace, "labels": labels},
          "data": {"revision": slim.revision or "",
                   "inventory": json.dumps(slim.to_json(), sort_keys=True)}}
    params = {"fieldManager": mgr.field_manager, "force": "true"}
    try:
        mgr.client.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/"
                           f"{configmap_name(mgr)}", params=params, body=cm,
                           content_type="application/apply-patch+yaml", where="cluster inventory")
    except ApiError as exc:
        if exc.status != 404:
            raise
        mgr.client.request("PATCH", f"/api/v1/namespaces/{namespace}", params=params, body=ns,
                           content_type="application/apply-patch+yaml",
                           where=f"namespace {namespace}")
        mgr.client.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/"
                           f"{configmap_name(mgr)}", params=params, body=cm,
                           content_type="application/apply-patch+yaml", where="cluster inventory")
    return True
