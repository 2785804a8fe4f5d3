"""Reference parsing and normalisation, checked against the ecosystem's behaviour."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import ImageError
from agent.images import ImageRef, InvalidReferenceError, parse_reference

SHA = "sha256:" + "a" * 64


@pytest.mark.parametrize(("text", "domain", "path", "tag", "digest"), [
    ("busybox", "docker.io", "library/busybox", None, None),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
    ("library/busybox", "docker.io", "library/busybox", None, None),
    ("docker.io/busybox", "docker.io", "library/busybox", None, None),
    ("index.docker.io/library/busybox", "docker.io", "library/busybox", None, None),
    ("foo/bar", "docker.io", "foo/bar", None, None),
    ("foo.bar", "docker.io", "library/foo.bar", None, None),
    ("localhost/foo", "localhost", "foo", None, None),
    ("localhost:5000/foo/bar:v1", "localhost:5000", "foo/bar", "v1", None),
    ("127.0.0.1:5000/edgesync/busybox:multi", "127.0.0.1:5000", "edgesync/busybox", "multi",
     None),
    ("[::1]:5000/foo", "[::1]:5000", "foo", None, None),
    ("registry.example.com/team/app:1.0", "registry.example.com", "team/app", "1.0", None),
    # A first component with uppercase is taken as a host, as Docker does.
    ("Uppercase.Host/foo", "Uppercase.Host", "foo", None, None),
    ("Uppercase/foo", "Uppercase", "foo", None, None),
    (f"foo@{SHA}", "docker.io", "library/foo", None, SHA),
    (f"foo:tag@{SHA}", "docker.io", "library/foo", "tag", SHA),
    ("foo__bar/a-----b/c.d_e", "docker.io", "foo__bar/a-----b/c.d_e", None, None),
    ("foo:" + "t" * 128, "docker.io", "library/foo", "t" * 128, None),
    ("foo:_Tag.1-x", "docker.io", "library/foo", "_Tag.1-x", None),
    (f"foo@sha512:{'b' * 128}", "docker.io", "library/foo", None, f"sha512:{'b' * 128}"),
])
def test_parses_like_docker(text: str, domain: str, path: str, tag: str | None,
                            digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("FOO", "lowercase"),
    ("foo/Bar", "lowercase"),
    ("registry.example.com/Team/app", "lowercase"),
    ("a" * 64, "image ID"),
    ("foo:", "invalid reference format"),
    (":tag", "invalid reference format"),
    ("foo::bar", "invalid reference format"),
    ("-foo", "invalid reference format"),
    ("foo-", "invalid reference format"),
    ("foo___bar", "invalid reference format"),
    ("foo//bar", "invalid reference format"),
    ("foo:" + "t" * 129, "invalid reference format"),
    ("foo:.tag", "invalid reference format"),
    ("foo bar", "invalid reference format"),
    ("foo/bär", "invalid reference format"),
    ("foo:tägg", "invalid reference format"),
    ("foo@sha256:" + "A" * 64, "lowercase hex"),
    ("foo@sha256:" + "a" * 32, "64 hex"),
    ("foo@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("foo@sha256", "invalid reference format"),
    ("example.com/" + "a" * 250, "longer than 255"),
    ("http://example.com/foo", "invalid reference format"),
])
def test_rejects_with_clear_error(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError, match=message) as info:
        parse_reference(text)
    assert isinstance(info.value, ImageError)
    if text:
        assert text[:20] in str(info.value)


def test_name_length_counts_the_normalised_name() -> None:
    # 255 characters including `docker.io/library/` is the limit, exactly.
    ok = "a" * (255 - len("docker.io/library/"))
    assert parse_reference(ok).name == f"docker.io/library/{ok}"
    with pytest.raises(InvalidReferenceError, match="255"):
        parse_reference(ok + "a")


def test_without_normalisation_the_first_component_is_a_domain() -> None:
    ref = parse_reference("foo/bar:1", normalize=False)
    assert (ref.domain, ref.path) == ("foo", "bar")
    assert parse_reference("bar", normalize=False).domain == ""


@pytest.mark.parametrize(("text", "familiar"), [
    ("docker.io/library/busybox:1", "busybox:1"),
    ("docker.io/foo/bar", "foo/bar"),
    ("docker.io/library/foo/bar", "library/foo/bar"),
    ("localhost:5000/foo", "localhost:5000/foo"),
])
def test_familiar_form(text: str, familiar: str) -> None:
    assert parse_reference(text).familiar == familiar


def test_pinning_drops_the_tag_and_validates_the_digest() -> None:
    ref = parse_reference("localhost:5000/app:1.0")
    assert str(ref.with_digest(SHA)) == f"localhost:5000/app@{SHA}"
    with pytest.raises(InvalidReferenceError):
        ref.with_digest("sha256:nothex")
    assert ref.manifest_reference == "1.0"
    assert parse_reference("app").manifest_reference == "latest"
    assert parse_reference(f"app:1@{SHA}").manifest_reference == SHA


# -- properties -----------------------------------------------------------------------

_alnum = st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True)
_sep = st.sampled_from([".", "_", "__", "-", "--", "---"])
_component = st.builds(lambda first, rest: first + "".join(s + a for s, a in rest),
                       _alnum, st.lists(st.tuples(_sep, _alnum), max_size=3))
_host_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_domain = st.one_of(
    st.builds(lambda labels, tld, port: ".".join([*labels, tld]) + port,
              st.lists(_host_label, min_size=1, max_size=3), st.sampled_from(["com", "local"]),
              st.sampled_from(["", ":5000", ":443"])),
    st.builds(lambda port: "localhost" + port, st.sampled_from(["", ":5000"])),
    st.just("127.0.0.1:5000"), st.just("[::1]:5000"), st.just("docker.io"),
)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digest = st.builds(lambda hexes: "sha256:" + hexes,
                    st.from_regex(r"[a-f0-9]{64}", fullmatch=True))


@st.composite
def references(draw: st.DrawFn) -> ImageRef:
    domain = draw(_domain)
    path = "/".join(draw(st.lists(_component, min_size=1, max_size=4)))
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    return ImageRef(domain, path, draw(st.none() | _tag), draw(st.none() | _digest))


@settings(max_examples=300)
@given(references())
def test_format_then_parse_round_trips(ref: ImageRef) -> None:
    assert parse_reference(str(ref)) == ref
    assert parse_reference(ref.familiar) == ref


@settings(max_examples=500)
@given(st.text(alphabet="abcAB09._-:/@[]", max_size=40) | st.text(max_size=20))
def test_normalisation_is_idempotent_and_errors_are_image_errors(text: str) -> None:
    try:
        ref = parse_reference(text)
    except ImageError:
        return
    again = parse_reference(str(ref))
    assert again == ref
    assert str(again) == str(ref)
