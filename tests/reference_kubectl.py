"""Which `kubectl` is the renderer's reference: the one whose Kustomize is v5.5.0.

The local environment puts its own, newer kubectl first on PATH (its Kustomize
differs), so the render tests look for the pinned Kustomize rather than taking
whatever `kubectl` comes first.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

KUSTOMIZE_VERSION = "v5.5.0"


@functools.cache
def reference_kubectl() -> str | None:
    """A kubectl binary that runs Kustomize v5.5.0 whatever KUBECONFIG says.

    Some distributions ship `kubectl` as a dispatcher that picks a versioned
    binary (`kubectl.1.32`, ...) to match the current cluster's version, so the
    versioned siblings are tried first: they answer the same in every environment.
    """
    on_path: list[str] = []
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
        found = shutil.which("kubectl", path=folder)
        if found and found not in on_path:
            on_path.append(found)
    siblings: list[str] = []
    for found in on_path:
        real = Path(found).resolve()
        siblings += sorted(str(p) for p in real.parent.glob("kubectl.*") if os.access(p, os.X_OK))
    for kubectl in [*siblings, *on_path]:
        if _kustomize_version(kubectl) == KUSTOMIZE_VERSION:
            return kubectl
    return None


def _kustomize_version(kubectl: str) -> str | None:
    try:
        out = subprocess.run([kubectl, "version", "--client"], capture_output=True,
                             text=True, timeout=30, check=False).stdout
    except OSError:
        return None
    for line in out.splitlines():
        if line.startswith("Kustomize Version:"):
            return line.split(":", 1)[1].strip()
    return None
