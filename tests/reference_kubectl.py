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

KUSTOMIZE_VERSION = "v5.5.0"


@functools.cache
def reference_kubectl() -> str | None:
    candidates: list[str] = []
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]:
        found = shutil.which("kubectl", path=folder)
        if found and found not in candidates:
            candidates.append(found)
    for kubectl in candidates:
        try:
            out = subprocess.run([kubectl, "version", "--client"], capture_output=True,
                                 text=True, timeout=30, check=False).stdout
        except OSError:
            continue
        if f"Kustomize Version: {KUSTOMIZE_VERSION}" in out:
            return kubectl
    return None
