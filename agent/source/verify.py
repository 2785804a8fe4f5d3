"""Commit signature verification against trusted keys from files.

`source.verify.keys_dir` holds the trust roots:
  - OpenPGP public keys (`*.asc`, `*.gpg`), imported into a private keyring
    (`state_dir/gnupg`, rebuilt whenever the key files change) and marked
    ultimately trusted there: being in the directory *is* the trust decision;
  - SSH keys: an `allowed_signers` file (ssh-keygen format) and/or `*.pub`
    keys, combined into one allowed-signers file for `gpg.ssh.allowedSignersFile`.

Only git's `G` verdict (good signature from a trusted key) passes; every
other verdict is refused with the reason in words.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent.errors import SourceError

_VERDICTS = {
    "B": "has a bad signature",
    "U": "is signed by a key that is not trusted",
    "X": "has a good signature that has expired",
    "Y": "is signed by an expired key",
    "R": "is signed by a revoked key",
    "E": "is signed by an unknown key (not in source.verify.keys_dir)",
    "N": "is not signed",
}


@dataclass(frozen=True)
class TrustStore:
    gnupg_home: Path
    allowed_signers: Path

    def git_config(self) -> dict[str, str]:
        return {"gpg.ssh.allowedSignersFile": str(self.allowed_signers)}

    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.gnupg_home)}


def _key_files(keys_dir: Path) -> list[Path]:
    if not keys_dir.is_dir():
        raise SourceError("source.verify.keys_dir is not a directory", where=str(keys_dir))
    return sorted(p for p in keys_dir.iterdir() if p.is_file())


def prepare(keys_dir: str, state_dir: str | Path) -> TrustStore:
    """Build (or reuse) the private keyring and allowed-signers file for `keys_dir`."""
    src = Path(keys_dir)
    files = _key_files(src)
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    home = Path(state_dir) / "trust"
    stamp = home / "keys.sha256"
    gnupg = home / "gnupg"
    signers = home / "allowed_signers"
    store = TrustStore(gnupg, signers)
    if stamp.is_file() and stamp.read_text() == digest.hexdigest():
        return store
    if home.exists():
        shutil.rmtree(home)
    gnupg.mkdir(parents=True, mode=0o700)
    os.chmod(home, 0o700)
    pgp = [f for f in files if f.suffix in (".asc", ".gpg")]
    for f in pgp:
        _gpg(gnupg, ["--import", str(f)], where=str(f))
    if pgp:
        listing = _gpg(gnupg, ["--with-colons", "--list-keys"], where=str(src))
        trust = "".join(f"{line.split(':')[9]}:6:\n" for line in listing.splitlines()
                        if line.startswith("fpr:"))
        _gpg(gnupg, ["--import-ownertrust"], where=str(src), stdin=trust)
    lines: list[str] = []
    for f in files:
        if f.name == "allowed_signers":
            lines += [ln for ln in f.read_text().splitlines() if ln.strip()]
        elif f.suffix == ".pub":
            for ln in f.read_text().splitlines():
                parts = ln.split()
                if len(parts) >= 2:
                    principal = parts[2] if len(parts) > 2 else f.stem
                    lines.append(f'{principal} namespaces="git" {parts[0]} {parts[1]}')
    signers.write_text("".join(f"{ln}\n" for ln in lines))
    if not pgp and not lines:
        raise SourceError("no trusted keys found (*.asc, *.gpg, *.pub, allowed_signers)",
                          where=str(src))
    stamp.write_text(digest.hexdigest())
    return store


def _gpg(home: Path, args: list[str], *, where: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["gpg", "--batch", "--no-tty", "--homedir", str(home), *args],
                          input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()[-1:] or ["gpg failed"]
        raise SourceError(f"cannot import trusted key: {msg[0]}", where=where)
    return proc.stdout


def judge(commit: str, verdict: str, signer: str, key: str) -> str:
    """The signer text for a `G` verdict; a SourceError naming the problem otherwise."""
    if verdict == "G":
        return f"{signer} ({key})" if signer else key
    reason = _VERDICTS.get(verdict, f"failed verification ({verdict!r})")
    who = f" [{signer or key}]" if (signer or key) else ""
    raise SourceError(f"commit {commit[:12]} {reason}{who}", where="source.verify",
                      action="refused; nothing applied, the last good revision stays")
