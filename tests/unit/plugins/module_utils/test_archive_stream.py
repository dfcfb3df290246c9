"""archive_stream + archive_codec: the chunked pipeline hashes both streams, compresses with every
codec, rejects short streams (TARGET 4) and propagates connection errors without publishing."""
import gzip
import hashlib
import io
import os
import tarfile
import threading

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import (
    CODECS, CodecError, Compressor, DecompressingReader, detect_codec, effective_threads, engine_stream_threads)
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_stream import (
    archive_stream, iter_file_chunks)
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_tarscan import TarFormatError, TruncatedArchive
from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import AtomicWriter


def volume_tar(size=3 << 20):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        root = tarfile.TarInfo(".")
        root.type = tarfile.DIRTYPE
        tar.addfile(root)
        for name, data in (("./random.bin", os.urandom(size)), ("./zeros", bytes(size)),
                           ("./text.log", b"line of text\n" * 50000)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    # Exactly as the engine sends it: the last member (text ends in a newline), then two zero blocks.
    return data[:(len(data.rstrip(b"\0")) + 511) // 512 * 512 + 1024]


def chunked(data, size=32768):
    for offset in range(0, len(data), size):
        yield data[offset:offset + size]


def decompress(codec, blob):
    reader = DecompressingReader(io.BytesIO(blob), codec)
    return b"".join(iter(lambda: reader.read(1 << 20), b""))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("prefetch, hash_thread, job_size", [(0, False, None), (4, False, None), (0, True, 1 << 20)])
def test_pipeline_round_trip_and_hashes(codec, prefetch, hash_thread, job_size):
    raw = volume_tar()
    out = io.BytesIO()
    result = archive_stream(chunked(raw), out, codec=codec, threads=2, prefetch=prefetch, hash_thread=hash_thread,
                            job_size=job_size)
    blob = out.getvalue()
    assert result.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert result.raw_bytes == len(raw)
    assert result.sha256 == hashlib.sha256(blob).hexdigest()
    assert result.bytes == len(blob)
    assert result.members == 4 and result.file_bytes == 2 * (3 << 20) + 13 * 50000
    assert detect_codec(blob[:8]) == codec
    assert decompress(codec, blob) == raw
    if codec != "none":
        assert len(blob) < len(raw) * 0.6


def test_gzip_output_is_plain_gzip():
    raw = volume_tar(1 << 16)
    out = io.BytesIO()
    archive_stream(chunked(raw), out, codec="gzip", prefetch=0)
    assert gzip.decompress(out.getvalue()) == raw


@pytest.mark.parametrize("prefetch, hash_thread", [(0, False), (4, False), (0, True)])
def test_truncated_stream_is_rejected_and_nothing_published(tmp_path, prefetch, hash_thread):
    raw = volume_tar()
    final = tmp_path / "v.tar.zst"
    with pytest.raises(TruncatedArchive):
        with AtomicWriter(str(final)) as writer:
            archive_stream(chunked(raw[:len(raw) // 2]), writer, prefetch=prefetch, hash_thread=hash_thread)
            writer.commit()
    assert os.listdir(str(tmp_path)) == []


def test_stream_missing_only_the_end_marker_is_rejected(tmp_path):
    raw = volume_tar()
    with pytest.raises(TruncatedArchive, match="end-of-archive"):
        archive_stream(chunked(raw[:-1024]), io.BytesIO(), prefetch=0)


@pytest.mark.parametrize("prefetch, hash_thread", [(0, False), (4, False), (0, True)])
def test_connection_error_mid_stream_propagates(prefetch, hash_thread):
    raw = volume_tar()

    def dropping():
        yield raw[:100000]
        raise ConnectionError("connection reset by peer")

    with pytest.raises(ConnectionError):
        archive_stream(dropping(), io.BytesIO(), prefetch=prefetch, hash_thread=hash_thread)
    assert not [t for t in threading.enumerate() if t.name == "phase0-archive-hasher"]


def test_malformed_tar_fails_from_the_hashing_thread_and_stops_it():
    """With hash_thread the tar scan runs in the hasher thread: its error is raised in the caller."""
    raw = bytearray(volume_tar())
    raw[148:156] = b"0000000\0"  # the first header's checksum field: wrong
    with pytest.raises(TarFormatError):
        archive_stream(chunked(bytes(raw)), io.BytesIO(), prefetch=0, hash_thread=True)
    assert not [t for t in threading.enumerate() if t.name == "phase0-archive-hasher"]


def test_progress_and_on_chunk_are_called():
    raw = volume_tar()
    seen, chunks = [], []
    archive_stream(chunked(raw), io.BytesIO(), progress=lambda r, c, t: seen.append(r),
                   progress_interval=0, on_chunk=chunks.append, prefetch=0)
    assert seen[-1] == len(raw)
    assert chunks[-1] == len(raw) and len(chunks) == (len(raw) + 32767) // 32768


def test_memory_stays_bounded_for_extreme_ratios():
    """A 64 MiB run of zeros compresses to a few KB; decompression still returns <= n bytes per read."""
    compressor = Compressor("zstd", threads=1)
    blob = b"".join(compressor.compress(bytes(1 << 20)) for _chunk in range(64)) + compressor.flush()
    reader = DecompressingReader(io.BytesIO(blob), "zstd")
    sizes = [len(part) for part in iter(lambda: reader.read(1 << 20), b"")]
    assert sum(sizes) == 64 << 20 and max(sizes) <= 1 << 20


def test_corrupt_and_truncated_gzip_are_errors():
    compressor = Compressor("gzip")
    blob = compressor.compress(os.urandom(100000)) + compressor.flush()
    with pytest.raises(CodecError, match="truncated"):
        decompress("gzip", blob[:-20])
    bad = bytearray(blob)
    bad[5000] ^= 0xFF
    with pytest.raises(CodecError):
        decompress("gzip", bytes(bad))


@pytest.mark.parametrize("threads,expected", [(0, os.cpu_count() or 1), (None, os.cpu_count() or 1), (3, 3)])
def test_effective_threads(threads, expected):
    assert effective_threads(threads) == expected


@pytest.mark.parametrize("threads,cores,expected", [
    (0, 2, 1),      # one core left to the engine's tar stream
    (None, 8, 7),
    (-1, 1, 1),     # never below one
    (0, 1, 1),
    (3, 2, 3),      # an explicit count is kept
    (1, 16, 1),
])
def test_engine_stream_threads_leave_a_core_to_the_engine(threads, cores, expected):
    assert engine_stream_threads(threads, cores=cores) == expected


def test_file_chunks_cover_the_file_in_order():
    data = os.urandom(3000000)
    chunks = list(iter_file_chunks(io.BytesIO(data), 1 << 20))
    assert b"".join(chunks) == data and [len(chunk) for chunk in chunks] == [1 << 20, 1 << 20, 3000000 - (2 << 20)]


def test_switch_interval_is_lowered_only_while_streaming():
    import sys
    from ansible_collections.homeiq.phase0.plugins.module_utils.archive_stream import GIL_SWITCH_INTERVAL
    before = sys.getswitchinterval()
    seen = []
    archive_stream(chunked(volume_tar(1 << 16)), io.BytesIO(), prefetch=4,
                   on_chunk=lambda raw: seen.append(sys.getswitchinterval()))
    assert seen and max(seen) <= GIL_SWITCH_INTERVAL + 1e-9
    assert sys.getswitchinterval() == before


def test_a_failing_hash_update_is_raised_not_hung():
    """The hashing thread survives its own error: update() and hexdigest() raise it, never block."""
    from ansible_collections.homeiq.phase0.plugins.module_utils.archive_threads import BackgroundHasher

    hasher = BackgroundHasher(depth=1)
    hasher.update(object())  # not a buffer: hashlib raises TypeError in the thread
    with pytest.raises(TypeError):
        for _index in range(50):
            hasher.update(b"x" * 4096)
    with pytest.raises(TypeError):
        hasher.hexdigest()
