"""The local-directory source (`source.path`): a fleet repo checkout already on disk.

The revision id is a content hash of every file under the repo root except
`.git`, names included. Hashing all files, not only the ones the tier's
overlay reads, is the simplest rule that can never miss a change the renderer
would see; its cost is that an edit to another tier's overlay also makes a
new revision, which then applies as a no-op.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from agent.errors import SourceError
from agent.model import Revision


def content_hash(root: Path) -> str:
    h = hashlib.sha256()
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        files.extend(Path(folder) / n for n in names)
    for f in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        rel = f.relative_to(root).as_posix().encode()
        try:
            data = f.read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {rel.decode()}: {exc.strerror}",
                              where=str(root)) from exc
        h.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def resolve_local(path: str) -> Revision:
    root = Path(path)
    if not root.is_dir():
        raise SourceError("source.path is not a directory", where=str(root))
    return Revision(id="sha256:" + content_hash(root)[:16], path=str(root.resolve()))
