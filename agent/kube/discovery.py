"""API discovery, read once per cycle: for each group/version/kind its resource and scope.

Uses aggregated discovery (two requests: `/api`, `/apis`) and falls back to
the per-group documents on servers that do not offer it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from agent.errors import KubeError
from agent.kube.client import KubeClient

_AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
               "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
               "application/json")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection(self, namespace: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def path(self, namespace: str, name: str) -> str:
        return f"{self.collection(namespace)}/{quote(name, safe='')}"


class Discovery:
    def __init__(self, client: KubeClient):
        self._client = client
        self._by_gvk: dict[tuple[str, str, str], Resource] = {}
        self._versions: dict[tuple[str, str], list[str]] = {}
        self._loaded = False

    def refresh(self) -> None:
        self._by_gvk.clear()
        self._versions.clear()
        core = self._client.request("GET", "/api", accept=_AGGREGATED, where="discovery /api")
        apis = self._client.request("GET", "/apis", accept=_AGGREGATED, where="discovery /apis")
        if core.get("kind") == "APIGroupDiscoveryList" and apis.get("kind") == \
                "APIGroupDiscoveryList":
            for doc in (core, apis):
                self._read_aggregated(doc)
        else:
            self._read_legacy(apis)
        self._loaded = True

    def _add(self, group: str, version: str, kind: str, plural: str, namespaced: bool) -> None:
        key = (group, version, kind)
        if key in self._by_gvk:
            return
        self._by_gvk[key] = Resource(group, version, kind, plural, namespaced)
        self._versions.setdefault((group, kind), []).append(version)

    def _read_aggregated(self, doc: dict[str, Any]) -> None:
        for item in doc.get("items") or ():
            group = (item.get("metadata") or {}).get("name") or ""
            for v in item.get("versions") or ():
                for r in v.get("resources") or ():
                    kind = (r.get("responseKind") or {}).get("kind")
                    if kind:
                        self._add(group, v["version"], kind, r["resource"],
                                  r.get("scope") == "Namespaced")

    def _read_legacy(self, apis: dict[str, Any]) -> None:
        docs: list[tuple[str, str]] = [("", "/api/v1")]
        for g in apis.get("groups") or ():
            for v in g.get("versions") or ():
                docs.append((g["name"], f"/apis/{v['groupVersion']}"))

        def fetch(item: tuple[str, str]) -> tuple[str, dict[str, Any]]:
            return item[0], self._client.request("GET", item[1], where=f"discovery {item[1]}")

        for result in self._client.map(fetch, docs):
            if isinstance(result, BaseException):
                continue  # an aggregated API that is down must not hide the rest
            group, doc = result
            version = str(doc.get("groupVersion", "")).rpartition("/")[2]
            for r in doc.get("resources") or ():
                if "/" not in r["name"]:
                    self._add(group, version, r["kind"], r["name"], bool(r.get("namespaced")))

    def find(self, api_version: str, kind: str) -> Resource | None:
        if not self._loaded:
            self.refresh()
        group, _, version = api_version.rpartition("/")
        return self._by_gvk.get((group, version, kind))

    def resolve(self, api_version: str, kind: str, *, where: str | None = None) -> Resource:
        found = self.find(api_version, kind)
        if found is not None:
            return found
        group = api_version.rpartition("/")[0]
        served = self._versions.get((group, kind))
        if served:
            raise KubeError(f"{kind} is not served in {api_version} "
                            f"(served: {', '.join(served)})", where=where)
        raise KubeError(f"unknown kind {kind} in {api_version}: the cluster has no such "
                        "resource (is its CRD installed?)", where=where)
