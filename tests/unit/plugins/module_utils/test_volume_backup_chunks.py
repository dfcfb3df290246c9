"""get_archive_chunks' body reader: the engine's ~32 KiB HTTP chunks are coalesced to chunk_size, and
close() ends the response also before the first chunk was read (a generator's finally cannot), so an
error between the request and the first read never leaves the engine streaming into a full socket."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.volume_backup_engine import _ArchiveChunks


class FakeResponse:
    def __init__(self, parts):
        self.parts = parts
        self.closed = 0

    def iter_content(self, chunk_size, decode_unicode):
        assert decode_unicode is False
        return iter(self.parts)

    def close(self):
        self.closed += 1


@pytest.mark.parametrize("parts, chunk_size, expected", [
    ([b"a" * 3, b"b" * 3, b"c" * 3], 4, [b"aaabbb", b"ccc"]),
    ([b"a" * 4, b"b" * 4], 4, [b"aaaa", b"bbbb"]),
    ([b"x"], 1 << 20, [b"x"]),
    ([], 4, []),
])
def test_chunks_are_coalesced_and_the_response_closed(parts, chunk_size, expected):
    response = FakeResponse(parts)
    assert list(_ArchiveChunks(response, chunk_size)) == expected
    assert response.closed >= 1


def test_close_before_the_first_read_ends_the_response():
    response = FakeResponse([b"never read"])
    chunks = _ArchiveChunks(response, 4)
    chunks.close()
    assert response.closed == 1
