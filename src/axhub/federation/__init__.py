"""Federation: site nodes answering governed aggregate queries, and the coordinator.

``spec`` (what may be asked), ``node`` (disclosure rules and the node store), ``server``
(the node's HTTP interface), ``coordinator`` (fan-out, partial results, combination).
See ``docs/federation.md``.
"""
