# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Follow a tar stream chunk by chunk: member count, file bytes, and proof that it ended.

The backup pipeline and `verify: full` feed raw tar bytes through TarScanner as they pass; it
parses only the 512-byte headers (ustar, GNU long names, PAX, old GNU sparse) and skips member
data arithmetically, so it costs almost nothing per byte and holds at most one header and one
bounded PAX/long-name record in memory.

A stream is complete only when the end-of-archive marker (two zero blocks) arrives where a
header is expected. A stream cut short by a dropped connection, a truncated member, or a lone
zero block raises TruncatedArchive from finish(), so the backup fails and nothing is published.

Interface:
    TarScanner(on_member=None, keep_names=False)
        .feed(chunk)   bytes/bytearray/memoryview; raises TarFormatError (bad header checksum,
                       data after the end marker, oversized metadata record)
        .finish()      raises TruncatedArchive unless the end marker was seen
        .members       members as tarfile counts them (PAX/GNU metadata headers not counted)
        .file_bytes    sum of regular-file sizes
        .ended         end marker seen
        .raw_bytes     bytes fed
    on_member(ScannedMember) is called for every member (tar_validate in verify, the extractor).
    It may return a sink (an object with .write(memoryview) and .close()): the member's data is
    then handed to sink.write() in slices as it streams by (no copy), and sink.close() is
    called once the member's last byte passed (at once for members without data). With no
    callback, names are decoded only when keep_names is True.
    ScannedMember: name, linkname, type (tarfile type byte), size, mode, uid, gid, mtime,
    devmajor, devminor, pax_headers (the tarfile.TarInfo attribute names).
"""
from __future__ import annotations

import tarfile
import zlib

BLOCK = 512
MAX_META_RECORD = 1 << 20  # a PAX header or GNU long name above 1 MiB is not a real archive
_ZERO_BLOCK = bytes(BLOCK)
_META_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK,
               b"X")  # b"X": Solaris extended header, same syntax as PAX
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE)
_DEVICE_TYPES = (tarfile.CHRTYPE, tarfile.BLKTYPE)
_NO_DATA = (tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.DIRTYPE,
            tarfile.FIFOTYPE)


class TarFormatError(ValueError):
    """The bytes are not a well-formed tar stream."""


class TruncatedArchive(TarFormatError):
    """The stream ended before the end-of-archive marker (short stream / dropped connection)."""


class ScannedMember:
    __slots__ = ("name", "linkname", "type", "size", "mode", "uid", "gid", "mtime", "devmajor", "devminor",
                 "pax_headers")

    # Explicit keywords, not a setattr loop: one member per header, 50k+ per archive.
    def __init__(self, name=None, linkname=None, type=None, size=None, mode=None,  # pylint: disable=redefined-builtin  # tarfile's name
                 uid=None, gid=None, mtime=None, devmajor=None, devminor=None, pax_headers=None):
        self.name = name
        self.linkname = linkname
        self.type = type
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.devmajor = devmajor
        self.devminor = devminor
        self.pax_headers = pax_headers

    def __repr__(self):
        return "ScannedMember(%r, type=%r, size=%r)" % (self.name, self.type, self.size)


def _padded(size):
    return (size + BLOCK - 1) // BLOCK * BLOCK


def parse_number(field):
    """A tar numeric field: octal ASCII (NUL/space terminated) or GNU base-256."""
    try:
        # The common case in one C call: digits, maybe spaces, NUL padding at the end.
        return int(field.rstrip(b"\x00"), 8)
    except ValueError:
        pass
    if field and field[0] & 0x80:
        value = field[0] & 0x3F
        negative = bool(field[0] & 0x40)
        for byte in field[1:]:
            value = (value << 8) | byte
        if negative:
            value -= 1 << (6 + 8 * (len(field) - 1))
        return value
    text = bytes(field).split(b"\x00", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarFormatError("invalid numeric field %r in tar header" % bytes(field))


def _byte_sum(block):
    """Unsigned sum of the header bytes outside the checksum field, in three C calls.

    Adler-32's low half is 1 + the byte sum modulo 65521; each slice is short enough (at most
    244 bytes, sum <= 62220) that the modulo never applies, so the sum is exact. About 8x faster
    than sum() over the 504 bytes, which was the scanner's largest cost per member.
    """
    return ((zlib.adler32(block[:148]) & 0xFFFF) + (zlib.adler32(block[156:400]) & 0xFFFF)
            + (zlib.adler32(block[400:BLOCK]) & 0xFFFF) - 3)


def header_checksum_ok(block):
    # GNU tar, Go's archive/tar and tarfile all write six digits, NUL, space; parse_number's
    # first try cannot take that NUL, so the common case gets its own (guarded) fast path.
    stored = None
    if block[154] in (0, 32):
        try:
            stored = int(block[148:154], 8)
        except ValueError:
            pass
    if stored is None:
        stored = parse_number(block[148:156])
    total = _byte_sum(block) + 256
    if stored == total:
        return True
    # Some old tars summed signed chars.
    signed = sum((b - 256 if b > 127 else b) for b in block[:148]) + 256 + \
        sum((b - 256 if b > 127 else b) for b in block[156:])
    return stored == signed


def _text(field):
    return field.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def parse_pax_records(data):
    """PAX extended header records -> {keyword: value}; malformed records raise TarFormatError."""
    records = {}
    pos = 0
    data = bytes(data)
    while pos < len(data):
        if data[pos:pos + 1] == b"\x00":
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise TarFormatError("malformed PAX record")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarFormatError("malformed PAX record length")
        if length <= 0 or pos + length > len(data):
            raise TarFormatError("malformed PAX record length")
        record = data[space + 1:pos + length]
        if not record.endswith(b"\n") or b"=" not in record:
            raise TarFormatError("malformed PAX record")
        keyword, value = record[:-1].split(b"=", 1)
        records[keyword.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


class TarScanner:
    """Incremental tar stream scanner (see module doc)."""

    def __init__(self, on_member=None, keep_names=False):
        self.on_member = on_member
        self.keep_names = keep_names or on_member is not None
        self.members = 0
        self.file_bytes = 0
        self.raw_bytes = 0
        self.ended = False
        self._zero_blocks = 0
        self._skip = 0          # data + padding bytes still to pass
        self._sink = None       # receives the data of the current member
        self._data_left = 0     # data bytes of the current member still to hand to the sink
        self._header = bytearray()
        self._meta_type = None  # collecting the data of a PAX / long-name header
        self._meta = bytearray()
        self._meta_left = 0
        self._meta_pad = 0
        self._pending = {}      # metadata that applies to the next real member
        self._sparse_ext = False

    def feed(self, chunk):
        view = memoryview(chunk)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        size = len(view)
        self.raw_bytes += size
        pos = 0
        while pos < size:
            if self.ended:
                if bytes(view[pos:]).count(0) != size - pos:
                    raise TarFormatError("data after the end-of-archive marker at byte %d"
                                         % (self.raw_bytes - size + pos))
                return
            if self._data_left:
                take = min(self._data_left, size - pos)
                self._sink.write(view[pos:pos + take])
                self._data_left -= take
                pos += take
                if not self._data_left:
                    self._close_sink()
                continue
            if self._skip:
                take = min(self._skip, size - pos)
                self._skip -= take
                pos += take
                continue
            if self._meta_left:
                take = min(self._meta_left, size - pos)
                self._meta += view[pos:pos + take]
                self._meta_left -= take
                pos += take
                if not self._meta_left:
                    self._end_meta()
                continue
            if not self._header and size - pos >= BLOCK:
                # A 512-byte copy is cheaper than the memoryview slicing it saves.
                block = bytes(view[pos:pos + BLOCK])
                pos += BLOCK
            else:
                take = min(BLOCK - len(self._header), size - pos)
                self._header += view[pos:pos + take]
                pos += take
                if len(self._header) < BLOCK:
                    break
                block = bytes(self._header)
                self._header = bytearray()
            self._block(block)

    def _block(self, block):
        if self._sparse_ext:
            self._sparse_ext = bool(block[504])
            return
        if block == _ZERO_BLOCK:
            self._zero_blocks += 1
            if self._zero_blocks == 2:
                self.ended = True
            return
        if self._zero_blocks:
            raise TarFormatError("a lone zero block inside the archive at byte %d" % self.raw_bytes)
        if not header_checksum_ok(block):
            raise TarFormatError("bad tar header checksum near byte %d" % self.raw_bytes)
        typeflag = block[156:157]
        size = parse_number(block[124:136])
        if typeflag in _META_TYPES:
            if size > MAX_META_RECORD:
                raise TarFormatError("tar metadata record of %d bytes is too large" % size)
            self._meta_type = typeflag
            self._meta = bytearray()
            self._meta_left = size
            self._meta_pad = _padded(size) - size
            if not size:
                self._end_meta()
            return
        pending, self._pending = self._pending, {}
        if "size" in pending:
            try:
                size = int(pending["size"])
            except ValueError:
                raise TarFormatError("invalid PAX size %r" % pending["size"])
        if typeflag == tarfile.AREGTYPE and _text(block[0:100]).endswith("/"):
            typeflag = tarfile.DIRTYPE  # old tars mark directories this way; tarfile agrees
        # Like tarfile: only regular (and unknown) types carry data; a hardlink's size is ignored.
        data = 0 if typeflag in _NO_DATA else size
        real_size = size
        if typeflag == tarfile.GNUTYPE_SPARSE:
            real_size = parse_number(block[483:495])
            self._sparse_ext = bool(block[482])
        if "GNU.sparse.realsize" in pending or "GNU.sparse.size" in pending:
            real_size = int(pending.get("GNU.sparse.realsize", pending.get("GNU.sparse.size")))
        self.members += 1
        if typeflag in _REGULAR:
            self.file_bytes += real_size
        self._skip = _padded(data)
        if self.keep_names:
            sink = self._emit(block, typeflag, real_size, pending)
            if sink is not None:
                self._sink = sink
                self._data_left = data
                self._skip -= data
                if not data:
                    self._close_sink()

    def _close_sink(self):
        sink, self._sink = self._sink, None
        sink.close()

    def _end_meta(self):
        kind, data = self._meta_type, bytes(self._meta)
        self._meta_type, self._meta = None, bytearray()
        self._skip = self._meta_pad
        if kind in (tarfile.XHDTYPE, b"X"):
            self._pending.update(parse_pax_records(data))
        elif kind == tarfile.GNUTYPE_LONGNAME:
            self._pending["path"] = data.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
        elif kind == tarfile.GNUTYPE_LONGLINK:
            self._pending["linkpath"] = data.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
        # XGLTYPE (global PAX) carries nothing we count.

    def _emit(self, block, typeflag, size, pending):
        name = _text(block[0:100])
        # block[n] is 0 for an empty field: skip decoding it (most members have no prefix or link).
        if block[345] and block[257:263] == b"ustar\x00":
            prefix = _text(block[345:500])
            if prefix:
                name = prefix + "/" + name
        try:  # parse_number's common case, inline: four calls fewer per member
            mode, uid, gid = (int(block[100:108].rstrip(b"\x00"), 8), int(block[108:116].rstrip(b"\x00"), 8),
                              int(block[116:124].rstrip(b"\x00"), 8))
            mtime = int(block[136:148].rstrip(b"\x00"), 8)
        except ValueError:
            mode, uid, gid = parse_number(block[100:108]), parse_number(block[108:116]), parse_number(block[116:124])
            mtime = parse_number(block[136:148])
        linkname = _text(block[157:257]) if block[157] else ""
        if pending:
            name = pending.get("path", name)
            linkname = pending.get("linkpath", linkname)
            uid = int(pending.get("uid", uid))
            gid = int(pending.get("gid", gid))
            mtime = float(pending.get("mtime", mtime))
        else:
            mtime = float(mtime)
        if typeflag == tarfile.DIRTYPE:
            name = name.rstrip("/") or name
        if typeflag in _DEVICE_TYPES:
            devmajor, devminor = parse_number(block[329:337]), parse_number(block[337:345])
        else:
            devmajor = devminor = 0
        member = ScannedMember(name, linkname, typeflag, size, mode & 0o7777, uid, gid, mtime,
                               devmajor, devminor, pending)
        if self.on_member is not None:
            return self.on_member(member)
        return None

    def finish(self):
        if self._header or self._skip or self._data_left or self._meta_left or self._meta_type is not None:
            raise TruncatedArchive("tar stream ended inside a member after %d bytes (%d members): "
                                   "the stream was cut short" % (self.raw_bytes, self.members))
        if not self.ended:
            raise TruncatedArchive("tar stream ended after %d bytes (%d members) without the "
                                   "end-of-archive marker (two zero blocks): the stream was cut short"
                                   % (self.raw_bytes, self.members))
        return self
