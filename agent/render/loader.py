"""File access for one kustomization, under Kustomize's root-only load restrictor.

Each kustomization may read files only at or below its own directory, and may
name other kustomization directories anywhere, except one of its own ancestors
(that would be a cycle). On top of that nothing may leave the repository root
the agent passes in, even through a symlink: every path is resolved first.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import RenderError
from agent.render.yamlio import MAX_FILE_BYTES

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_REMOTE_PREFIXES = ("http://", "https://", "git::", "github.com/", "gitlab.com/", "ssh://",
                    "git@", "oci://")


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def is_remote(ref: str) -> bool:
    return ref.startswith(_REMOTE_PREFIXES) or "?ref=" in ref or ".git//" in ref


@dataclass(frozen=True)
class Loader:
    """Reads files for the kustomization at `dir`; `repo` bounds every access."""

    dir: Path
    repo: Path
    ancestors: tuple[Path, ...] = field(default=())
    kfile: str = ""

    @classmethod
    def at(cls, directory: Path, repo: Path | None) -> Loader:
        real = Path(os.path.realpath(directory))
        bound = Path(os.path.realpath(repo)) if repo is not None else real
        if not real.is_relative_to(bound):
            raise RenderError(f"kustomization directory {directory} is outside the repository "
                              f"root {bound}", where=str(directory))
        return cls(real, bound)

    def rel(self, path: Path) -> str:
        text, root = os.path.normpath(path), str(self.repo)
        if root == "/":
            return text
        if text.startswith(root + os.sep):
            return text[len(root) + 1:]
        return "" if text == root else text

    def resolve_file(self, name: str, *, what: str) -> Path:
        """Path of a file this kustomization may read, or a RenderError saying why not."""
        if is_remote(name):
            raise RenderError(f"{what}: remote file {name!r} is not supported",
                              where=self.kust_where())
        real = os.path.realpath(os.path.join(self.dir, name))
        target = Path(real)
        if not _within(real, str(self.repo)):
            raise RenderError(f"{what}: {name!r} escapes the repository root",
                              where=self.kust_where())
        if not _within(real, str(self.dir)):
            raise RenderError(f"{what}: security; file {name!r} is not in or below "
                              f"{self.rel(self.dir) or '.'} (load restrictor: root only)",
                              where=self.kust_where())
        return target

    def read_bytes(self, name: str, *, what: str) -> bytes:
        target = self.resolve_file(name, what=what)
        try:
            with open(target, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise RenderError(f"{what}: {name!r} is not a file",
                                      where=self.kust_where())
                if info.st_size > MAX_FILE_BYTES:
                    raise RenderError(f"{what}: file is {info.st_size} bytes, over the "
                                      f"{MAX_FILE_BYTES} byte limit", where=self.rel(target))
                # Read one byte past the limit: a file growing meanwhile still fails.
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise RenderError(f"{what}: file is over the {MAX_FILE_BYTES} byte limit",
                                  where=self.rel(target))
            return data
        except IsADirectoryError:
            raise RenderError(f"{what}: {name!r} is not a file", where=self.kust_where()) from None
        except FileNotFoundError:
            raise RenderError(f"{what}: file {name!r} not found",
                              where=self.kust_where()) from None
        except OSError as exc:
            raise RenderError(f"{what}: cannot read {name!r}: {exc.strerror}",
                              where=self.kust_where()) from None

    def read_text(self, name: str, *, what: str) -> str:
        data = self.read_bytes(name, what=what)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise RenderError(f"{what}: {name!r} is not UTF-8 text",
                              where=self.rel(self.dir / name)) from None

    def is_file_candidate(self, name: str) -> bool:
        """True when `name` is an existing regular file (the entry is a file, not a base)."""
        return os.path.isfile(os.path.join(self.dir, name))

    def child(self, name: str, *, what: str) -> Loader:
        """Loader for another kustomization directory named by this one."""
        if is_remote(name):
            raise RenderError(f"{what}: remote base {name!r} is not supported (the agent "
                              "renders only its own checkout)", where=self.kust_where())
        target = Path(os.path.realpath(self.dir / name))
        if not target.is_relative_to(self.repo):
            raise RenderError(f"{what}: {name!r} escapes the repository root",
                              where=self.kust_where())
        if not target.exists():
            raise RenderError(f"{what}: {name!r} does not exist", where=self.kust_where())
        if not target.is_dir():
            raise RenderError(f"{what}: {name!r} is neither a resource file nor a "
                              "kustomization directory", where=self.kust_where())
        for seen in (*self.ancestors, self.dir):
            if seen == target or seen.is_relative_to(target):
                raise RenderError(f"{what}: cycle detected: {name!r} contains the "
                                  f"kustomization {self.rel(seen) or '.'} that includes it",
                                  where=self.kust_where())
        return Loader(target, self.repo, (*self.ancestors, self.dir))

    def kustomization_file(self) -> Path:
        found = [self.dir / n for n in KUSTOMIZATION_FILES if (self.dir / n).is_file()]
        if not found:
            raise RenderError("no kustomization.yaml, kustomization.yml or Kustomization "
                              "file", where=self.rel(self.dir) or ".")
        if len(found) > 1:
            raise RenderError("found multiple kustomization files",
                              where=self.rel(self.dir) or ".")
        return found[0]

    def kust_where(self) -> str:
        return self.kfile or self.rel(self.dir) or "."
