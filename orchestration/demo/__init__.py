"""The demo generator: synthetic monthly extracts whose right answers are known.

Not part of the product: the warehouse never imports it. `icw generate` and `icw demo`, the tests
and the benchmarks call `generate`, which draws the people, their referrals and life cycles, plants
the anomalies and recording problems, writes the three extracts' monthly CSV files and
`ground_truth.json`, and returns a `GenerationSummary`. The same arguments always give
byte-identical files.
"""

from orchestration.demo.generator import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
