"""Docker's multiplexed attach stream, split into stdout and stderr whatever the chunking."""
import struct

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.exec_dialogue import FrameReader


def frame(stream, payload):
    return struct.pack(">BxxxL", stream, len(payload)) + payload


STREAM = frame(1, b'{"helper": "python"}') + frame(2, b"warning: x\n") + frame(1, b"\n") + frame(1, b'{"verified": {}}\n')


@pytest.mark.parametrize("chunk", [1, 3, 7, 8, 9, 64, len(STREAM)])
def test_any_chunking_gives_the_same_streams(chunk):
    reader = FrameReader()
    for start in range(0, len(STREAM), chunk):
        reader.feed(STREAM[start:start + chunk])
    assert reader.stdout == b'{"helper": "python"}\n{"verified": {}}\n'
    assert reader.stderr == b"warning: x\n"
    assert reader.pending == 0
    assert reader.first_line() == b'{"helper": "python"}'


@pytest.mark.parametrize("data, first, pending", [
    (b"", None, 0),
    (frame(1, b"no newline yet"), None, 0),
    (frame(1, b"line\nrest"), b"line", 0),
    (frame(1, b"line\n")[:10], None, 10),          # header and two bytes: the frame is incomplete
    (frame(2, b"err\n") + frame(1, b"out"), None, 0),  # a newline on stderr is not stdout's first line
    (frame(0, b"echo\n"), b"echo", 0),             # stream 0 (stdin echo) counts as output
    (frame(1, b""), None, 0),                       # empty frames happen and carry nothing
])
def test_first_line_and_pending(data, first, pending):
    reader = FrameReader()
    reader.feed(data)
    assert reader.first_line() == first
    assert reader.pending == pending
