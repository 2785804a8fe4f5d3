"""Commit signature verification with real gpg and ssh-keygen signatures."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.errors import SourceError
from agent.source import git as gitsource
from agent.source import store
from tests.source.fleetrepo import FleetRepo

MakeCfg = Callable[..., AgentConfig]


def gpg_key(home: Path, uid: str) -> str:
    home.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519",
                    "sign", "never"], env=env, check=True, capture_output=True)
    out = subprocess.run(["gpg", "--with-colons", "--list-keys"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def export(home: Path, fpr: str, dest: Path) -> None:
    env = {**os.environ, "GNUPGHOME": str(home)}
    dest.write_bytes(subprocess.run(["gpg", "--armor", "--export", fpr], env=env, check=True,
                                    capture_output=True).stdout)


def ssh_key(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True)
    return path


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, object]:
    trusted = tmp_path / "trusted-keys"
    trusted.mkdir()
    good_home, evil_home = tmp_path / "gpg-good", tmp_path / "gpg-evil"
    good = gpg_key(good_home, "Fleet Release <release@example.com>")
    evil = gpg_key(evil_home, "Mallory <mallory@example.com>")
    export(good_home, good, trusted / "release.asc")
    ops = ssh_key(tmp_path / "ops_ed25519", "ops@example.com")
    stranger = ssh_key(tmp_path / "stranger_ed25519", "stranger@example.com")
    (trusted / "ops.pub").write_text(Path(f"{ops}.pub").read_text())
    return {"dir": trusted, "good": (good_home, good), "evil": (evil_home, evil),
            "ops": ops, "stranger": stranger}


def gpg_signed(fleet: FleetRepo, home_fpr: object, msg: str) -> str:
    home, fpr = home_fpr  # type: ignore[misc]
    fleet.write("cloud/files/app.conf", f"{msg}\n")
    head = fleet.commit(msg, sign=[f"user.signingkey={fpr}"], env={"GNUPGHOME": str(home)})
    fleet.push()
    return head


def ssh_signed(fleet: FleetRepo, key: object, msg: str) -> str:
    fleet.write("cloud/files/app.conf", f"{msg}\n")
    head = fleet.commit(msg, sign=["gpg.format=ssh", f"user.signingkey={key}.pub"])
    fleet.push()
    return head


def test_openpgp_signed_head_is_accepted(fleet: FleetRepo, make_cfg: MakeCfg,
                                         keys: dict[str, object]) -> None:
    head = gpg_signed(fleet, keys["good"], "signed release")
    rev = gitsource.resolve(make_cfg(fleet.url, verify={"mode": "head",
                                                        "keys_dir": str(keys["dir"])}))
    assert rev.id == head
    assert rev.signer is not None and "Fleet Release <release@example.com>" in rev.signer


def test_ssh_signed_head_is_accepted(fleet: FleetRepo, make_cfg: MakeCfg,
                                     keys: dict[str, object]) -> None:
    head = ssh_signed(fleet, keys["ops"], "ssh signed")
    rev = gitsource.resolve(make_cfg(fleet.url, verify={"mode": "head",
                                                        "keys_dir": str(keys["dir"])}))
    assert rev.id == head
    assert rev.signer is not None and rev.signer.startswith("ops@example.com (SHA256:")


@pytest.mark.parametrize(("how", "reason"), [
    ("unsigned", "is not signed"),
    ("gpg-untrusted", "unknown key"),
    ("ssh-untrusted", "not trusted"),
])
def test_untrusted_head_is_refused_and_nothing_changes(fleet: FleetRepo, make_cfg: MakeCfg,
                                                       keys: dict[str, object], how: str,
                                                       reason: str) -> None:
    cfg = make_cfg(fleet.url, verify={"mode": "head", "keys_dir": str(keys["dir"])})
    signed = gpg_signed(fleet, keys["good"], "trusted")
    good = gitsource.resolve(cfg)
    assert good.id == signed
    if how == "unsigned":
        fleet.write("cloud/files/app.conf", "sneaky\n")
        fleet.commit("unsigned change")
        fleet.push()
    elif how == "gpg-untrusted":
        gpg_signed(fleet, keys["evil"], "evil")
    else:
        ssh_signed(fleet, keys["stranger"], "stranger")
    with pytest.raises(SourceError, match=reason) as err:
        gitsource.resolve(cfg)
    assert "nothing applied" in str(err.value)
    assert gitsource.current(cfg) == good
    dirs = {p.name for p in store.revisions_dir(cfg.state_dir).iterdir()
            if p.is_dir() and not p.is_symlink()}
    assert dirs == {good.id}


def test_keys_dir_without_keys_is_an_error(fleet: FleetRepo, make_cfg: MakeCfg,
                                           tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no trusted keys"):
        gitsource.resolve(make_cfg(fleet.url, verify={"mode": "head", "keys_dir": str(empty)}))


def test_turning_verification_on_rechecks_a_revision_on_disk(fleet: FleetRepo,
                                                             make_cfg: MakeCfg,
                                                             keys: dict[str, object]) -> None:
    rev = gitsource.resolve(make_cfg(fleet.url))  # unsigned, fetched without verification
    strict = make_cfg(fleet.url, verify={"mode": "head", "keys_dir": str(keys["dir"])})
    with pytest.raises(SourceError, match="is not signed"):
        gitsource.resolve(strict)
    assert gitsource.current(strict) == rev
