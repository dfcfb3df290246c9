"""tar_validate: the hostile-archive corpus (TARGETS 15, 16, 20) is rejected before any write.

Archives are built in memory. Each hostile archive is judged twice: with tarfile's own parse
(what a tarfile-based restore sees) and with archive_tarscan's parse (what verify and
archive_extract see). Neither path calls tarfile's extraction filters, so these checks hold on
Python versions without the 2025 filter fixes.
"""
import io
import tarfile

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_tarscan import TarScanner
from ansible_collections.homeiq.phase0.plugins.module_utils.tar_validate import (
    TarMemberValidator, UnsafeMember, normalize_member_name, symlink_escapes, validate_members)


def info(name, kind=tarfile.REGTYPE, linkname="", size=0, devmajor=0, devminor=0):
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = linkname
    member.size = size
    member.devmajor, member.devminor = devmajor, devminor
    member.mtime = 1700000000
    return member


def pax_record(key, value):
    body = (" %s=%s\n" % (key, value)).encode("utf-8", "surrogateescape")
    length = len(body)
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


def raw_pax_member(path, data=b"x"):
    """A member whose name comes from a PAX record (so a NUL survives, unlike in ustar fields)."""
    records = pax_record("path", path)
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = len(records)
    out = header.tobuf(tarfile.USTAR_FORMAT) + records + b"\0" * (-len(records) % 512)
    body = tarfile.TarInfo("placeholder")
    body.size = len(data)
    out += body.tobuf(tarfile.USTAR_FORMAT) + data + b"\0" * (-len(data) % 512)
    return out


def build(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.size else None)
    return buf.getvalue()


def tarfile_members(data):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return tar.getmembers()


def scanned_members(data):
    members = []
    scanner = TarScanner(on_member=members.append)
    scanner.feed(data)
    scanner.finish()
    return members


HOSTILE = [
    ("dotdot", [info("../x", size=1)], "'..'"),
    ("absolute", [info("/etc/x", size=1)], "absolute"),
    ("inner dotdot", [info("a/../../x", size=1)], "'..'"),
    ("symlink escape then write through", [info("x", tarfile.SYMTYPE, "../../.."), info("x/y", size=1)],
     "outside the archive root"),
    ("absolute hardlink", [info("h", tarfile.LNKTYPE, "/etc/shadow")], "absolute"),
    ("hardlink to unseen member", [info("h", tarfile.LNKTYPE, "later"), info("later", size=1)], "not seen before"),
    ("hardlink with dotdot", [info("h", tarfile.LNKTYPE, "../x")], "'..'"),
    ("char device", [info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)], "device"),
    ("block device", [info("sda", tarfile.BLKTYPE, devmajor=8)], "device"),
    ("symlink absolute", [info("x", tarfile.SYMTYPE, "/")], "outside the archive root"),
]


@pytest.mark.parametrize("members,reason", [pytest.param(m, r, id=i) for i, m, r in HOSTILE])
@pytest.mark.parametrize("parser", [tarfile_members, scanned_members])
def test_hostile_corpus_is_rejected(members, reason, parser):
    problems = validate_members(parser(build(members)))
    assert problems, "hostile archive accepted"
    assert reason in problems[0][1]


@pytest.mark.parametrize("parser", [tarfile_members, scanned_members])
def test_write_through_symlink_rejected_even_when_external_symlinks_allowed(parser):
    members = parser(build([info("x", tarfile.SYMTYPE, "../../.."), info("x/y", size=1)]))
    problems = validate_members(members, allow_external_symlinks=True)
    assert [name for name, dummy in problems] == ["x/y"]
    assert "goes through symlink 'x'" in problems[0][1]


def test_empty_name_rejected():
    with pytest.raises(UnsafeMember, match="empty"):
        TarMemberValidator().check(info(""))


def test_nul_in_pax_name_rejected():
    data = raw_pax_member("ok\x00../../etc/passwd") + b"\0" * 1024
    members = scanned_members(data)
    assert "\x00" in members[0].name
    problems = validate_members(members)
    assert problems and "NUL" in problems[0][1]


def test_nul_in_link_target_rejected():
    with pytest.raises(UnsafeMember, match="NUL"):
        TarMemberValidator().check(info("l", tarfile.SYMTYPE, "a\x00b"))


def test_two_archive_symlink_attack_is_caught_by_chaining_validators():
    """CVE-2025-45582: archive A plants x -> /, archive B writes x/tmp/pwn."""
    first = TarMemberValidator(allow_external_symlinks=True)
    first.check(info("x", tarfile.SYMTYPE, "/"))
    second = TarMemberValidator(known_symlinks=first.symlinks)
    with pytest.raises(UnsafeMember, match="through symlink"):
        second.check(info("x/tmp/pwn", size=1))


def test_devices_allowed_only_on_request():
    member = info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)
    with pytest.raises(UnsafeMember):
        TarMemberValidator().check(member)
    assert TarMemberValidator(allow_devices=True).check(member) == "dev/null"


@pytest.mark.parametrize("members", [
    pytest.param([info("a", size=1), info("a", tarfile.SYMTYPE, "b")], id="symlink replaces file"),
    pytest.param([info("a", tarfile.SYMTYPE, "b"), info("a", size=1)], id="file replaces symlink"),
    pytest.param([info("a", size=1), info("a", size=1)], id="duplicate file"),
    pytest.param([info("d", tarfile.SYMTYPE, "e"), info("h", tarfile.LNKTYPE, "d")], id="hardlink to symlink"),
    pytest.param([info("d", tarfile.DIRTYPE), info("h", tarfile.LNKTYPE, "d")], id="hardlink to directory"),
    pytest.param([info("x", b"Z")], id="unknown type"),
    pytest.param([info(".", tarfile.REGTYPE, size=1)], id="root not a directory"),
])
def test_replacing_and_odd_members_rejected(members):
    assert validate_members(members)


SAFE = [
    info(".", tarfile.DIRTYPE),
    info("./data", tarfile.DIRTYPE),
    info("./data/db.sqlite", size=3),
    info("./data/hard", tarfile.LNKTYPE, "./data/db.sqlite"),
    info("./data/rel", tarfile.SYMTYPE, "db.sqlite"),
    info("./data/up", tarfile.SYMTYPE, "../data/db.sqlite"),
    info("./data/fifo", tarfile.FIFOTYPE),
    info("./data", tarfile.DIRTYPE),
]


@pytest.mark.parametrize("parser", [tarfile_members, scanned_members])
def test_ordinary_volume_archive_passes(parser):
    assert validate_members(parser(build(SAFE))) == []


@pytest.mark.parametrize("name,expected", [
    (".", ""), ("./", ""), ("./a//b/", "a/b"), ("a/./b", "a/b"), ("name with spaces", "name with spaces"),
    # around the plain-name fast path: every one must equal the component-by-component parse
    ("./a", "a"), ("a/", "a"), ("./a/b/", "a/b"), (".hidden", ".hidden"), ("./.hidden/x", ".hidden/x"),
    ("a..b", "a..b"), ("./a.", "a."), ("a/.", "a"), ("./.", ""), ("././a", "a"), (".//a", "a"),
    ("a/b/./", "a/b"), ("...", "..."), ("./\u00fc \u65e5", "\u00fc \u65e5"),
])
def test_normalize_member_name(name, expected):
    assert normalize_member_name(name) == expected


@pytest.mark.parametrize("name,reason", [
    ("/etc/x", "absolute"), ("../x", "'..'"), ("a/../../x", "'..'"), ("./..", "'..'"), ("a/..", "'..'"),
    ("a\x00b", "NUL"), ("", "empty"), ("//x", "absolute"),
])
def test_normalize_member_name_rejects(name, reason):
    with pytest.raises(UnsafeMember, match=reason):
        normalize_member_name(name)


@pytest.mark.parametrize("path,target,escapes", [
    ("a", "b", False), ("a/b", "../c", False), ("a/b", "../../c", True), ("a", "..", True),
    ("a", "/etc", True), ("a/b/c", "./../../x", False), ("a", "b/../../c", True),
])
def test_symlink_escapes(path, target, escapes):
    assert symlink_escapes(path, target) is escapes
