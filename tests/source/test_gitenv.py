"""Credentials become git environment config, never argv; URLs are redacted for logs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from agent.config import AuthConfig, SourceConfig
from agent.errors import SourceError
from agent.source.gitenv import auth_header, git_env, redact, ssh_command


def test_basic_token_and_bearer(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    assert auth_header(AuthConfig(username="ops", password_file=str(pw))) == \
        "Basic " + base64.b64encode(b"ops:s3cret").decode()
    assert auth_header(AuthConfig(token_file=str(pw))) == "Bearer s3cret"
    assert auth_header(AuthConfig(username="x-access-token", token_file=str(pw))) == \
        "Basic " + base64.b64encode(b"x-access-token:s3cret").decode()
    assert auth_header(AuthConfig()) is None
    with pytest.raises(SourceError, match=r"needs source\.auth\.username"):
        auth_header(AuthConfig(password_file=str(pw)))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SourceError, match="is empty"):
        auth_header(AuthConfig(token_file=str(empty)))
    with pytest.raises(SourceError, match="cannot read"):
        auth_header(AuthConfig(token_file=str(tmp_path / "missing")))


def test_header_is_scoped_to_the_source_url(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret")
    env = git_env(SourceConfig(url="https://git.example/fleet.git",
                               auth=AuthConfig(username="ops", password_file=str(pw))))
    pairs = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
             for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert pairs["http.https://git.example/fleet.git.extraHeader"].startswith(
        "Authorization: Basic ")
    assert pairs["credential.helper"] == ""
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_ssh_command_pins_key_and_hosts(tmp_path: Path) -> None:
    key, known = tmp_path / "id", tmp_path / "known"
    key.write_text("k")
    known.write_text("h")
    cmd = ssh_command(AuthConfig(ssh_key_file=str(key), known_hosts_file=str(known)))
    assert f"-i {key}" in cmd and f"UserKnownHostsFile={known}" in cmd
    assert "StrictHostKeyChecking=yes" in cmd and "BatchMode=yes" in cmd
    with pytest.raises(SourceError, match="known_hosts file not found"):
        ssh_command(AuthConfig(known_hosts_file=str(tmp_path / "nope")))


def test_redact() -> None:
    assert redact("fatal: https://u:p@h/x.git gone") == "fatal: https://***@h/x.git gone"
    assert redact("no url here") == "no url here"
