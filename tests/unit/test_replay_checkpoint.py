"""The checkpoint's arithmetic: batches settled in any order (several PostgreSQL loaders commit out
of order, each storing the span of positions its batch settles) folded into one state that skips
exactly what was done; and the spans the runner hands out tile the input with no gap."""

from __future__ import annotations

import random

from cdp_cli.replay.checkpoint import Tracker, expand, fold


def test_fold_moves_the_watermark_over_contiguous_spans_and_keeps_the_rest_as_positions():
    assert fold(0, [], [(10, 20), (0, 10), (30, 33)]) == {"watermark": 20, "acked": [30, 31, 32]}
    assert fold(5, [7], [(0, 3)]) == {"watermark": 5, "acked": [7]}
    assert fold(5, [5, 6, 9], []) == {"watermark": 7, "acked": [9]}
    assert fold(0, [], [(4, 4)]) == {"watermark": 0, "acked": []}  # an empty span settles nothing


def test_expand_reads_ranges_as_a_document_stores_them_and_plain_positions():
    assert expand([[3, 5], [9, 9]]) == [3, 4, 5, 9]
    assert expand([1, 2]) == [1, 2]


def test_the_spans_of_batches_cover_every_position_once_and_fold_to_what_was_committed():
    rng = random.Random(3)
    tracker = Tracker()
    high, spans = 0, []
    for seq in range(200):
        high += rng.randint(1, 30)  # the batch's messages and the dropped ones before them
        tracker.add(seq, high, [])
        spans.append(tracker.span(seq))
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    committed = [s for s in spans if rng.random() < 0.7]  # committed out of order; the others were not
    state = fold(0, [], rng.sample(committed, len(committed)))
    done = set(range(state["watermark"])) | set(state["acked"])
    assert done == {p for lo, hi in committed for p in range(lo, hi)}
