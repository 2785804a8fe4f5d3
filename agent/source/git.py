"""The Git source: one cheap round trip when nothing moved, a minimal fetch when it did.

Per call of `resolve`:
 1. `ls-remote` once (protocol v0 over HTTP is a single GET of the ref
    advertisement; v2 would need two requests) and pick the commit the
    configured ref names. An exact commit needs no round trip at all.
 2. Same commit as `current` (or already on disk): done, nothing fetched.
 3. Otherwise fetch that one commit, depth 1, without blobs
    (`--filter=blob:none`) into a cache repo at `state_dir/git`. Trees come
    along, so the whole file list is known without file contents.
 4. With `source.verify.mode: head`, check the commit's signature (a
    depth-1 fetch still carries the signed commit object) before any file
    is written.
 5. Check out, level by level, the tier policy, the tier's overlay and what
    its kustomizations reference (see `sparse`), into a fresh directory;
    git fetches just those blobs on demand. The directory is sealed
    read-only as `revisions/<commit>` and `current` is switched to it.
 6. Old revisions are collected, keeping `source.keep_revisions`, `current`
    and `good`.

A broken cache (deleted objects, a half-written pack after a full disk) is
wiped and fetched again once; checked-out revisions never depend on it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from agent.config import AgentConfig
from agent.errors import ConfigError, SourceError
from agent.model import Revision
from agent.source import sparse, store
from agent.source.gitenv import git_env, redact
from agent.source.refs import Target, parse_advertisement, parse_ref, pick, wanted_patterns

TARGET_REF = "refs/edgesync/target"
NETWORK_TIMEOUT = 300.0
LOW_DISK = 4 * 1024 * 1024
_LAZY_FETCH_REFUSED = re.compile(r"unadvertised object|from promisor remote")


class GitCommandError(SourceError):
    """A git command exited non-zero."""


@dataclass(frozen=True)
class Poll:
    """What one `ls-remote` said: the commit to sync and whether it is already on disk."""

    target: Target
    current: str | None

    @property
    def changed(self) -> bool:
        return self.target.commit != self.current


class GitSource:
    def __init__(self, cfg: AgentConfig):
        if not cfg.source.url:
            raise ConfigError("the git source needs source.url")
        self.cfg = cfg
        self.url = cfg.source.url
        self.where = redact(self.url)
        self.state_dir = cfg.state_path
        self.cache = self.state_dir / "git"
        self.spec = parse_ref(cfg.source.ref)
        # A checkout is cut for one tier and policy file, and verified or not; a checkout of
        # the same commit under other settings is made again (and verified, if asked).
        self.scope = f"{cfg.tier}:{cfg.source.tiers_file}:verify={cfg.source.verify.mode}"
        self._trust_config: dict[str, str] = {}
        self._trust_env: dict[str, str] = {}

    # -- running git -------------------------------------------------------------------

    def _git(self, args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = NETWORK_TIMEOUT) -> str:
        from git.cmd import Git

        full_env = git_env(self.cfg.source, extra_config=self._trust_config)
        full_env.update(self._trust_env)
        full_env.update(env or {})
        runner = Git(str(cwd) if cwd else None)
        status, out, err = runner.execute(
            ["git", *args], env=full_env, with_extended_output=True, with_exceptions=False,
            kill_after_timeout=timeout, strip_newline_in_stdout=False)
        if status != 0:
            tail = [ln for ln in redact(str(err)).strip().splitlines() if ln.strip()][-4:]
            detail = "; ".join(tail) or f"exit status {status}"
            detail += self._low_disk_note()
            raise GitCommandError(f"git {_verb(args)} failed: {detail}", where=self.where)
        return str(out)

    def _low_disk_note(self) -> str:
        """Git's write errors don't say why; a nearly full state dir usually is."""
        try:
            free = shutil.disk_usage(self.state_dir).free
        except OSError:
            return ""
        return f" (only {free // 1024} KiB free in {self.state_dir})" if free < LOW_DISK else ""

    def _cache_git(self, args: list[str], *, env: dict[str, str] | None = None) -> str:
        return self._git(["--git-dir", str(self.cache), *args], env=env)

    # -- step 1: one round trip ------------------------------------------------------------

    def poll(self) -> Poll:
        """Ask the remote which commit the ref names now (one request; none for a commit)."""
        current = store.pointer(self.state_dir, store.CURRENT)
        if self.spec.kind == "commit":
            return Poll(Target(self.spec.text, None), current)
        out = self._git(["-c", "protocol.version=0", "ls-remote", self.url,
                         *wanted_patterns(self.spec)])
        return Poll(pick(self.spec, parse_advertisement(out), where=self.where), current)

    # -- the whole source stage ----------------------------------------------------------

    def current(self) -> Revision | None:
        commit = store.pointer(self.state_dir, store.CURRENT)
        return store.load(self.state_dir, commit) if commit else None

    def resolve(self, *, offline: bool = False) -> Revision:
        if offline:
            rev = self.current()
            if rev is None:
                raise SourceError("no revision on disk to use offline", where=str(self.state_dir),
                                  action="nothing applied")
            return rev
        poll = self.poll()
        commit = poll.target.commit
        have = store.load(self.state_dir, commit, self.scope)
        if have is not None:
            if poll.changed:
                # Back to a revision still on disk (a revert or force-push to an old commit).
                store.set_pointer(self.state_dir, store.CURRENT, commit)
            # The same commit may be reached through another ref than when it was fetched.
            return replace(have, ref=poll.target.refname)
        with self._locked():
            try:
                rev = self._fetch_and_checkout(poll.target, blobless=self._blobless())
            except GitCommandError as exc:
                if _LAZY_FETCH_REFUSED.search(str(exc)):
                    # A server that speaks only protocol v0 (SSH without AcceptEnv
                    # GIT_PROTOCOL, old hosts) refuses on-demand blob fetches: fetch whole
                    # depth-1 trees from now on, for this URL.
                    self._full_fetch_marker().write_text(self.url)
                # The server answered ls-remote, so the cache itself may be broken
                # (deleted objects, truncated pack): start it over once.
                self._reset_cache()
                rev = self._fetch_and_checkout(poll.target, blobless=self._blobless())
            store.set_pointer(self.state_dir, store.CURRENT, rev.id)
            store.collect(self.state_dir, self.cfg.source.keep_revisions,
                          protect=self._recorded_revisions())
        return rev

    def _recorded_revisions(self) -> set[str]:
        """Revisions the node's state file still refers to: never collected."""
        from agent.errors import StateError
        from agent.state import StateStore

        try:
            node = StateStore(self.state_dir).load()
        except StateError:
            return set()
        return {r for r in (node.applied_revision, node.last_good_revision, node.applying) if r}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "git.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- steps 3-5 -----------------------------------------------------------------------

    def _full_fetch_marker(self) -> Path:
        return self.state_dir / "git.full-fetch"

    def _blobless(self) -> bool:
        """Blob-less fetches, unless this URL's server was seen refusing them."""
        try:
            return self._full_fetch_marker().read_text() != self.url
        except OSError:
            return True

    def _init_cache(self, *, blobless: bool) -> None:
        if (self.cache / "HEAD").is_file() and self._cache_is_partial() != blobless:
            self._reset_cache()  # The fetch mode changed; a cache of the other kind can't serve.
        if not (self.cache / "HEAD").is_file():
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            self._git(["init", "--quiet", "--bare", str(self.cache)])
            partial = (("core.repositoryformatversion", "1"),
                       ("extensions.partialClone", "origin"),
                       ("remote.origin.promisor", "true"),
                       ("remote.origin.partialclonefilter", "blob:none"))
            for key, value in partial if blobless else ():
                self._cache_git(["config", key, value])
        self._cache_git(["config", "remote.origin.url", self.url])

    def _cache_is_partial(self) -> bool:
        try:
            return "partialclone" in (self.cache / "config").read_text().lower()
        except OSError:
            return False

    def _reset_cache(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)

    def _pack_bytes(self) -> int:
        pack = self.cache / "objects" / "pack"
        try:
            return sum(p.stat().st_size for p in pack.iterdir() if p.suffix == ".pack")
        except OSError:
            return 0

    def _fetch_and_checkout(self, target: Target, *, blobless: bool) -> Revision:
        self._init_cache(blobless=blobless)
        before = self._pack_bytes()
        src = target.refname or target.commit
        self._cache_git(["fetch", "--quiet", "--depth", "1",
                         *(["--filter=blob:none"] if blobless else []), "--no-tags",
                         "--no-write-fetch-head", "origin", f"+{src}:{TARGET_REF}"])
        commit = self._cache_git(["rev-parse", "--verify", f"{TARGET_REF}^{{commit}}"]).strip()
        signer = self._verify(commit) if self.cfg.source.verify.mode == "head" else None
        commit_time = self._cache_git(["log", "-1", "--format=%cI", commit]).strip() or None
        tmp = store.temp_dir(self.state_dir, commit)
        try:
            self._checkout(commit, tmp)
            rev = Revision(id=commit, path=str(tmp), commit_time=commit_time, signer=signer,
                           ref=target.refname, bytes_fetched=max(self._pack_bytes() - before, 0))
            return store.seal(tmp, rev, self.state_dir, scope=self.scope)
        except BaseException:
            if tmp.exists():
                store.remove_tree(tmp)
            raise

    def _verify(self, commit: str) -> str:
        from agent.source import verify

        keys_dir = self.cfg.source.verify.keys_dir
        assert keys_dir is not None  # enforced by the config loader
        trust = verify.prepare(keys_dir, self.state_dir)
        self._trust_config = trust.git_config()
        self._trust_env = trust.env()
        out = self._cache_git(["log", "-1", "--format=%G?%x00%GS%x00%GK", commit])
        verdict, signer, key = ([*out.strip("\n").split("\0"), "", ""])[:3]
        return verify.judge(commit, verdict, signer, key)

    def _checkout(self, commit: str, workdir: Path) -> None:
        """Check out only what the tier needs into `workdir` (see `agent.source.sparse`)."""
        from agent.tiers import load_tiers

        files = self._cache_git(["ls-tree", "-r", "--name-only", "-z", commit]).split("\0")
        tree = sparse.RepoTree(f for f in files if f)
        tiers_file = self.cfg.source.tiers_file
        if tiers_file not in tree.files:
            raise SourceError(f"tier policy {tiers_file} is missing in commit {commit[:12]}",
                              where=self.where, action="nothing applied")
        index = self.cache / f"edgesync-index-{os.getpid()}"
        patterns = {f"/{tiers_file}"}
        try:
            self._read_tree(commit, workdir, index, patterns)
            try:
                policy = load_tiers(workdir, tiers_file)
                overlay = policy.get(self.cfg.tier).overlay
            except ConfigError as exc:
                raise SourceError(f"commit {commit[:12]}: {exc}", where=self.where,
                                  action="nothing applied") from exc
            start = sparse.normalise("", overlay)
            frontier = {start} if start else set()
            seen: set[str] = set()
            while frontier:
                new = {p for p in (sparse.pattern(tree, f) for f in frontier) if p}
                if not new - patterns:
                    break
                patterns |= new
                self._read_tree(commit, workdir, index, patterns)
                seen |= frontier
                found: set[str] = set()
                for path in frontier:
                    if path in tree.dirs:
                        found |= sparse.references(tree, path, workdir)
                frontier = found - seen
        finally:
            index.unlink(missing_ok=True)

    def _read_tree(self, commit: str, workdir: Path, index: Path, patterns: set[str]) -> None:
        info = self.cache / "info"
        info.mkdir(exist_ok=True)
        (info / "sparse-checkout").write_text("".join(f"{p}\n" for p in sorted(patterns)))
        self._cache_git(["-c", "core.bare=false", "-c", "core.sparseCheckout=true",
                         "read-tree", "-mu", commit],
                        env={"GIT_WORK_TREE": str(workdir), "GIT_INDEX_FILE": str(index)})


def _verb(args: list[str]) -> str:
    """The git subcommand in `args`, skipping global options and their values."""
    it = iter(args)
    for arg in it:
        if arg in ("-c", "--git-dir", "-C"):
            next(it, None)
        elif not arg.startswith("-"):
            return arg
    return "command"


def resolve(cfg: AgentConfig, *, offline: bool = False) -> Revision:
    """The source stage for `source.url`: the checked-out revision to render."""
    return GitSource(cfg).resolve(offline=offline)


def poll(cfg: AgentConfig) -> Poll:
    """One `ls-remote`: has the ref moved away from `current`? (The daemon's no-op check.)"""
    return GitSource(cfg).poll()


def current(cfg: AgentConfig) -> Revision | None:
    return GitSource(cfg).current()


def mark_good(cfg: AgentConfig, commit: str) -> None:
    """Record `commit` as the last good revision; GC never removes it."""
    store.set_pointer(cfg.state_path, store.GOOD, commit)


