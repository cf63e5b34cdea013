"""Synthetic Chuncheon region: people, sites, FHIR records, devices, metabolomics, ground truth.

``generate(people, seed, out)`` writes the layout described in docs/synth.md and returns the
report that is also written to ``manifest.json``.
"""

from axhub.synth.generate import generate

__all__ = ["generate"]
