# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run per-item work (one container, one file) in a bounded number of threads.

A module file of its own so that code with no Docker in it (backup verification) does not pay
for importing the Docker SDK and requests: 0.12 s of the verify child's 0.18 s start-up here.

Interface:
    DEFAULT_WORKERS = 8
    bounded_map(fn, items, workers=DEFAULT_WORKERS) -> [Outcome(item, value, error), ...]
    Outcome.ok -> error is None
"""
from __future__ import annotations

from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

DEFAULT_WORKERS = 8


class Outcome(namedtuple("Outcome", ["item", "value", "error"])):
    """What fn(item) gave: its value, or the exception it raised (error)."""
    __slots__ = ()

    @property
    def ok(self):
        return self.error is None


def bounded_map(fn, items, workers=DEFAULT_WORKERS):
    """Run fn(item) for every item with at most `workers` threads.

    Returns one Outcome(item, value, error) per item, in the order of `items`; an exception
    raised by fn is captured in `error` (value None) instead of aborting the other items.
    """
    items = list(items)
    if not items:
        return []

    def call(item):
        try:
            return Outcome(item, fn(item), None)
        # an error is reported per item and never aborts the others
        except Exception as exc:  # pylint: disable=broad-except
            return Outcome(item, None, exc)

    with ThreadPoolExecutor(max_workers=max(1, min(int(workers), len(items)))) as pool:
        return list(pool.map(call, items))
