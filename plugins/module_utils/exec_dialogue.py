# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One exec, two turns: read a program's first line, send it one line back, read the rest.

The health diagnosis measures a container with one helper exec, then decides on the controller
which probe to recommend and runs that probe once to show it passes. Asking the same helper
over its stdin saves a second exec per container, which is the dominant cost (a runc start in
the engine, about 40 ms of CPU each on the benchmark machine).

Docker attaches an exec's stdin only over a hijacked connection (`exec_start(socket=True)`). Without
a TTY that stream carries stdout and stderr in frames: an 8-byte header (stream id, three zero
bytes, big-endian payload size) and the payload. `FrameReader` is the pure part of that.
"""
from __future__ import annotations

import socket
import struct
import time

STDERR = 2
_HEADER = struct.Struct(">BxxxL")


class FrameReader:
    """Split Docker's multiplexed attach stream into stdout and stderr bytes."""

    def __init__(self):
        self._buffer = b""
        self.stdout = b""
        self.stderr = b""

    def feed(self, data):
        self._buffer += data
        while len(self._buffer) >= _HEADER.size:
            stream, size = _HEADER.unpack(self._buffer[:_HEADER.size])
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            payload = self._buffer[_HEADER.size:end]
            self._buffer = self._buffer[end:]
            if stream == STDERR:
                self.stderr += payload
            else:  # 0 (stdin echo) and 1 both count as output
                self.stdout += payload

    @property
    def pending(self):
        """Bytes of an incomplete frame still waiting for the rest."""
        return len(self._buffer)

    def first_line(self):
        """stdout up to its first newline (without it), or None while there is none."""
        cut = self.stdout.find(b"\n")
        return None if cut < 0 else self.stdout[:cut]


def _raw(sock):
    # The SDK hands out a SocketIO for unix and tcp endpoints (the socket is in _sock), the socket
    # itself for TLS, a channel for ssh; all of those have recv, sendall and settimeout.
    return getattr(sock, "_sock", sock)


class DialogueResult:
    def __init__(self):
        self.first_line = None
        self.stdout = b""
        self.stderr = b""
        self.exit_code = None
        self.seconds = None
        self.timed_out = False
        self.error = None

    @property
    def rest(self):
        """stdout after the first line."""
        if self.first_line is None:
            return b""
        return self.stdout[len(self.first_line) + 1:]


def exec_dialogue(api, container, argv, limit, answer):
    """Run argv in the container with stdin attached; talk to it once.

    When its stdout holds a first complete line, `answer(first_line)` returns the bytes of one
    line to send back (a newline is added) or None (an empty line is sent: "nothing more").
    Reading ends at EOF or `limit` seconds after the start. Returns a DialogueResult; never raises
    for what happens inside the container.
    """
    result = DialogueResult()
    began = time.monotonic()
    try:
        exec_id = api.exec_create(container, argv, stdout=True, stderr=True, stdin=True)["Id"]
        sock = api.exec_start(exec_id, socket=True)
    except Exception as exc:  # pylint: disable=broad-except
        result.error = "exec failed: %s" % exc
        return result
    raw = _raw(sock)
    frames = FrameReader()
    answered = False
    try:
        while True:
            remaining = began + limit - time.monotonic()
            if remaining <= 0:
                result.timed_out = True
                break
            raw.settimeout(remaining)
            try:
                chunk = raw.recv(65536)
            except socket.timeout:
                result.timed_out = True
                break
            if not chunk:
                break
            frames.feed(chunk)
            if not answered and frames.first_line() is not None:
                answered = True
                try:
                    reply = answer(frames.first_line())
                except Exception:  # pylint: disable=broad-except
                    # our decision failed, not the container: the helper ends without a second turn
                    # and the caller verifies by a separate exec, as it would without the dialogue
                    reply = None
                raw.sendall((reply or b"") + b"\n")
    except (OSError, ValueError) as exc:
        result.error = "exec stream failed: %s" % exc
    finally:
        result.seconds = round(time.monotonic() - began, 6)
        try:
            sock.close()
        except Exception:  # pylint: disable=broad-except
            pass
    result.stdout, result.stderr = frames.stdout, frames.stderr
    result.first_line = frames.first_line()
    if not result.timed_out:
        try:
            result.exit_code = api.exec_inspect(exec_id).get("ExitCode")
        except Exception:  # pylint: disable=broad-except
            result.exit_code = None
    return result
