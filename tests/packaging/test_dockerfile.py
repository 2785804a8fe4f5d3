"""packaging/Dockerfile, read with a real Dockerfile parser (no Docker engine runs here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.packaging.conftest import REPO

DOCKERFILE = REPO / "packaging" / "Dockerfile"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def parse(text: str, tmp_path: Path) -> DockerfileParser:
    parser = DockerfileParser(path=str(tmp_path / "Dockerfile"))
    parser.content = text
    return parser


def values(structure: list[dict[str, str]], name: str) -> list[str]:
    return [i["value"] for i in structure if i["instruction"] == name]


def problems(parser: DockerfileParser) -> list[str]:
    """Every way the Dockerfile breaks the image rules, as sentences."""
    found = []
    structure = parser.structure
    froms = values(structure, "FROM")
    if len(froms) < 2 or not froms[0].endswith(" AS builder"):
        found.append("not multi-stage (builder, then runtime)")
    if not any(v.startswith("--from=builder ") for v in values(structure, "COPY")):
        found.append("the runtime stage copies nothing from the builder")
    for image in parser.parent_images:
        if not DIGEST.search(image):
            found.append(f"base {image} is not pinned by digest")
    last_from = max((i for i, ins in enumerate(structure) if ins["instruction"] == "FROM"),
                    default=0)
    users = values(structure[last_from:], "USER")
    user = users[-1].split(":", maxsplit=1)[0].strip() if users else "root"
    if user in ("", "0", "root"):
        found.append("the final stage runs as root")
    elif not user.isdigit():
        found.append("the final USER is not numeric (kubelet cannot check runAsNonRoot)")
    if any(re.search(r"https?://", v) for v in values(structure, "ADD")):
        found.append("ADD from a URL")
    entrypoints = values(structure, "ENTRYPOINT")
    try:
        exec_form = bool(entrypoints) and isinstance(json.loads(entrypoints[-1]), list)
    except json.JSONDecodeError:
        exec_form = False
    if not exec_form:
        found.append("ENTRYPOINT is not in exec form")
    volumes = values(structure, "VOLUME")
    declared = set(json.loads(volumes[-1])) if volumes else set()
    if not {"/var/lib/edgesync", "/run/edgesync", "/tmp"} <= declared:
        found.append("writable paths are not volumes (read-only root filesystem)")
    return found


def test_the_shipped_dockerfile_follows_every_rule(tmp_path: Path) -> None:
    parser = parse(DOCKERFILE.read_text(), tmp_path)
    assert len(values(parser.structure, "FROM")) >= 2
    assert parser.parent_images
    assert problems(parser) == []


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("USER 10001:10001", "USER root", "runs as root"),
    ("USER 10001:10001", "USER 0:0", "runs as root"),
    ("USER 10001:10001", "", "runs as root"),
    ("USER 10001:10001", "USER edgesync", "not numeric"),
    ('ENTRYPOINT ["/opt/edgesync/bin/edge-agent"]', "ENTRYPOINT /opt/edgesync/bin/edge-agent",
     "exec form"),
    ("COPY --from=builder /opt/edgesync /opt/edgesync",
     "ADD https://example.com/agent.tar.gz /opt/", "ADD from a URL"),
    ('VOLUME ["/var/lib/edgesync", "/run/edgesync", "/tmp"]', "", "read-only root"),
    ("FROM ${PYTHON_IMAGE} AS runtime", "FROM python:3.11-slim AS runtime", "not pinned"),
])
def test_each_rule_catches_its_breach(old: str, new: str, problem: str, tmp_path: Path) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    found = problems(parse(text.replace(old, new), tmp_path))
    assert any(problem in p for p in found), found
