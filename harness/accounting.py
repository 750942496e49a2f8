"""What the gatekeeper made of each input record, read back from the canonical topics and the DLQ."""

from __future__ import annotations

import collections
from collections.abc import Sequence

from harness.broker import headers, read_all
from harness.processes import Pipeline


def gatekeeper_accounting(p: Pipeline, inputs: Sequence[tuple[str, int, int]], timeout: float = 300.0
                          ) -> tuple[dict[tuple[str, int, int], str], list[str]]:
    """Map each input coordinate (topic, partition, offset) to its fate: `event:<family>`, `dlq:<reason>`, or
    nothing if it has none yet; plus a list of problems (an input with two fates, an output naming no input)."""
    fates: dict[tuple[str, int, int], list[str]] = collections.defaultdict(list)
    wanted = set(inputs)
    problems: list[str] = []
    for m in read_all(p.settings, [*p.events, p.topics.dlq.name], timeout=timeout):
        h = headers(m)
        if m.topic() == p.topics.dlq.name:
            src = (h.get("simpul.source_topic", ""), int(h.get("simpul.source_partition", "-1")),
                   int(h.get("simpul.source_offset", "-1")))
            fate = f"dlq:{h.get('simpul.reason', '?')}"
        else:
            topic, part, off = h.get("simpul.source", "::").rsplit(":", 2)
            src = (topic, int(part or -1), int(off or -1))
            fate = f"event:{m.topic().rsplit('.', 1)[1]}"
        if src not in wanted:
            problems.append(f"output {m.topic()}:{m.partition()}:{m.offset()} names unknown input {src}")
        fates[src].append(fate)
    for src, fs in fates.items():
        if len(fs) > 1:
            problems.append(f"input {src} has {len(fs)} outcomes: {fs}")
    return {src: fs[0] for src, fs in fates.items()}, problems
