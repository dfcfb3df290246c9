"""archive_tarscan: counts what tarfile counts, and a stream without its end marker is rejected (TARGET 4)."""
import io
import os
import tarfile

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_tarscan import (
    TarFormatError, TarScanner, TruncatedArchive, _byte_sum, header_checksum_ok, parse_number, parse_pax_records)


def make_tar(fmt=tarfile.PAX_FORMAT, files=None):
    files = files if files is not None else {
        "./": None, "./small.txt": b"hello\n", "./big.bin": os.urandom(70000), "./empty": b"",
        "./" + "long/" * 40 + "name.txt": b"deep", "./\u00fcnicode-\u65e5\u672c.txt": b"u",
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("./link")
        link.type, link.linkname = tarfile.SYMTYPE, "small.txt"
        tar.addfile(link)
        hard = tarfile.TarInfo("./hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "./small.txt"
        tar.addfile(hard)
    return buf.getvalue()


def scan(data, chunk=65536, **kwargs):
    scanner = TarScanner(**kwargs)
    for offset in range(0, len(data), chunk):
        scanner.feed(data[offset:offset + chunk])
    return scanner.finish()


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
@pytest.mark.parametrize("chunk", [1, 511, 512, 4096, 1 << 20])
def test_counts_match_tarfile(fmt, chunk):
    files = None
    if fmt == tarfile.USTAR_FORMAT:  # ustar cannot hold the long/unicode names
        files = {"./": None, "./a": b"abc", "./b": os.urandom(5000)}
    data = make_tar(fmt, files)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    scanner = scan(data, chunk)
    assert scanner.members == len(members)
    assert scanner.file_bytes == sum(m.size for m in members if m.isreg())
    assert scanner.raw_bytes == len(data)
    assert scanner.ended


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_names_and_metadata_match_tarfile(fmt):
    data = make_tar(fmt)
    seen = []
    scan(data, 777, on_member=seen.append)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = [(m.name, m.type, m.linkname, m.size) for m in tar.getmembers()]
    assert [(m.name, m.type, m.linkname, m.size) for m in seen] == expected


def members_end(data):
    """Offset just past the last member (tarfile pads the end marker to a 10 KiB record)."""
    return (len(data.rstrip(b"\0")) + 511) // 512 * 512


@pytest.mark.parametrize("cut", [
    pytest.param(lambda d: d[:members_end(d)], id="no end marker"),
    pytest.param(lambda d: d[:members_end(d) + 512], id="lone zero block"),
    pytest.param(lambda d: d[:600], id="inside a header"),
    pytest.param(lambda d: d[:len(d) // 2], id="inside member data"),
    pytest.param(lambda d: b"", id="empty stream"),
])
def test_short_stream_is_rejected(cut):
    data = make_tar()
    with pytest.raises(TruncatedArchive):
        scan(cut(data))


def test_zero_padding_after_end_is_fine_but_garbage_is_not():
    data = make_tar()
    assert scan(data[:members_end(data) + 1024]).ended
    assert scan(data + b"\0" * 9216).ended
    with pytest.raises(TarFormatError, match="after the end"):
        scan(data + b"garbage")


def test_corrupt_header_checksum_is_rejected():
    data = bytearray(make_tar())
    data[10] ^= 0x20
    with pytest.raises(TarFormatError, match="checksum"):
        scan(bytes(data))


def test_sink_receives_member_data_in_slices():
    data = make_tar()
    received = {}

    class Sink:
        def __init__(self, name):
            self.name, self.parts, self.closed = name, [], False

        def write(self, view):
            self.parts.append(bytes(view))

        def close(self):
            received[self.name] = b"".join(self.parts)

    scan(data, 1000, on_member=lambda member: Sink(member.name) if member.type == tarfile.REGTYPE else None)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isreg():
                assert received[member.name] == tar.extractfile(member).read()


@pytest.mark.parametrize("field,value", [
    (b"0000644\x00", 0o644), (b"     12 ", 10), (b"\x00" * 8, 0),
    (b"\x80" + b"\x00" * 6 + b"\x01", 1), (b"\x80" + b"\x00" * 6 + b"\x02" + b"\x00" * 4, 2 << 32),
    (b"12\x0034\x00", 0o12), (b"  644 \x00", 0o644), (b"0000000\x00", 0), (b"", 0),
    (b"17777777777\x00", 0o17777777777), (b"\x00\x00\x00\x007\x00\x00\x00", 0),
])
def test_parse_number(field, value):
    assert parse_number(bytearray(field)) == value
    assert parse_number(bytes(field)) == value


def test_bad_numeric_field_is_a_format_error():
    with pytest.raises(TarFormatError, match="numeric field"):
        parse_number(b"12x4\x00")


@pytest.mark.parametrize("block", [
    pytest.param(bytes(512), id="zeros"), pytest.param(b"\xff" * 512, id="all 0xff"),
    pytest.param(bytes(range(256)) * 2, id="every byte value"), pytest.param(os.urandom(512), id="random"),
])
def test_byte_sum_is_the_plain_sum(block):
    assert _byte_sum(block) == sum(block[:148]) + sum(block[156:])


@pytest.mark.parametrize("name", ["plain.txt", "\u00fcnicode-\u65e5\u672c-" + "\u00e9" * 40])
def test_header_checksum_of_tarfile_headers(name):
    header = tarfile.TarInfo(name).tobuf(tarfile.GNU_FORMAT)[-512:]
    assert header_checksum_ok(header)
    for offset in (0, 147, 156, 300, 511):
        damaged = bytearray(header)
        damaged[offset] ^= 0x01
        assert not header_checksum_ok(bytes(damaged)), offset


def _with_checksum_field(field):
    header = bytearray(tarfile.TarInfo("x").tobuf(tarfile.USTAR_FORMAT)[-512:])
    value = field % (sum(header[:148]) + sum(header[156:]) + 256)
    assert len(value) == 8, value
    header[148:156] = value
    return bytes(header)


@pytest.mark.parametrize("field", [
    pytest.param(b"%06o\x00 ", id="six digits, NUL, space (GNU tar, Go, tarfile)"),
    pytest.param(b"%07o\x00", id="seven digits, NUL"),
    pytest.param(b"%07o ", id="seven digits, space"),
    pytest.param(b"%o\x00\x00\x00\x00", id="short, NUL padded"),
    pytest.param(b"  %04o\x00 ", id="leading spaces"),
])
def test_header_checksum_field_layouts(field):
    """Every layout writers use parses to the same checksum; the last digit is never cut off."""
    header = _with_checksum_field(field)
    assert header_checksum_ok(header)
    wrong = bytearray(header)
    wrong[0] ^= 0x01
    assert not header_checksum_ok(bytes(wrong))


def test_parse_pax_records():
    data = b"20 path=some/file.x\n" + b"12 size=123\n"
    assert parse_pax_records(data) == {"path": "some/file.x", "size": "123"}
    with pytest.raises(TarFormatError):
        parse_pax_records(b"99 path=x\n")
