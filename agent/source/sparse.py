"""Which paths of the fleet repo a tier needs, found by following its kustomizations.

A node checks out only the tier policy file, its tier's overlay and everything
that overlay references (resources, bases, components, patches, generator
files, ...), transitively. The walk is level by level: the caller checks out
what is known so far (which fetches just those blobs), then asks `references`
what the new kustomization files point at, until nothing new turns up. The
repository's file list (trees come with a blob-less fetch) tells a referenced
directory from a referenced file, so each pattern is exact.

Remote references (URLs) and paths leaving the repo are not followed; the
renderer reports them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path
from typing import Any

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

_PATH_LISTS = ("resources", "bases", "components", "crds", "configurations",
               "transformers", "generators", "validators", "patchesStrategicMerge")
_PATH_OBJECT_LISTS = ("patches", "patchesJson6902", "replacements")


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("git@", "github.com/", "gitlab.com/"))


def raw_references(doc: dict[str, Any]) -> list[str]:
    """Every local path a kustomization mentions, relative to its own directory."""
    found: list[str] = []

    def add(value: Any) -> None:
        # Inline patches and inline transformer configs are YAML text or mappings, not paths.
        if isinstance(value, str) and value and "\n" not in value and not _is_remote(value):
            found.append(value)

    for key in _PATH_LISTS:
        for item in doc.get(key) or []:
            add(item)
    for key in _PATH_OBJECT_LISTS:
        for item in doc.get(key) or []:
            if isinstance(item, dict):
                add(item.get("path"))
    for key in ("configMapGenerator", "secretGenerator"):
        for gen in doc.get(key) or []:
            if not isinstance(gen, dict):
                continue
            for entry in gen.get("files") or []:
                if isinstance(entry, str):
                    add(entry.partition("=")[2] or entry)
            for entry in gen.get("envs") or []:
                add(entry)
            add(gen.get("env"))
    openapi = doc.get("openapi")
    if isinstance(openapi, dict):
        add(openapi.get("path"))
    helm = doc.get("helmGlobals")
    if isinstance(helm, dict):
        add(helm.get("chartHome"))
    return found


class RepoTree:
    """The file list of one commit, to tell directories from files."""

    def __init__(self, files: Iterable[str]):
        self.files = set(files)
        self.dirs: set[str] = set()
        for f in self.files:
            parent = posixpath.dirname(f)
            while parent and parent not in self.dirs:
                self.dirs.add(parent)
                parent = posixpath.dirname(parent)

    def kustomization_in(self, directory: str) -> str | None:
        for name in KUSTOMIZATION_NAMES:
            path = posixpath.join(directory, name) if directory else name
            if path in self.files:
                return path
        return None


def normalise(base_dir: str, ref: str) -> str | None:
    """`ref` relative to `base_dir` as a repo path, or None when it leaves the repo."""
    joined = posixpath.normpath(posixpath.join(base_dir, ref))
    if joined == "." or joined.startswith("../") or joined == ".." or posixpath.isabs(joined):
        return None
    return joined


def pattern(tree: RepoTree, path: str) -> str | None:
    """A non-cone sparse-checkout pattern for one repo path, or None if it doesn't exist."""
    if path in tree.dirs:
        return f"/{path}/"
    if path in tree.files:
        return f"/{path}"
    return None


def references(tree: RepoTree, directory: str, workdir: Path) -> set[str]:
    """Repo paths the kustomization in `directory` (read from `workdir`) points at."""
    import yaml

    name = tree.kustomization_in(directory)
    if name is None:
        return set()
    try:
        doc = yaml.safe_load((workdir / name).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return set()  # The renderer names the broken file; the checkout just stops here.
    if not isinstance(doc, dict):
        return set()
    out: set[str] = set()
    for ref in raw_references(doc):
        path = normalise(directory, ref)
        if path is not None and (path in tree.dirs or path in tree.files):
            out.add(path)
    return out
