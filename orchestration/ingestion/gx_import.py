"""Great Expectations, imported so that an installed pyspark cannot end the process.

GX probes for pyspark when it is imported (great_expectations/compatibility/pyspark.py),
including Spark Connect's modules. pyspark 4 checks, when one of those is imported, whether the
main module looks like a doctest run (no `__file__`, no `__spec__`: a `python -c` process, or
code fed to python on standard input), and then prints "Skipping doctests" and calls
`sys.exit(0)` (pyspark/sql/connect/utils.py, `check_dependencies`). With the `spark` extra
installed, a loader started that way would stop part-way and report success. ICW validates
DuckDB with GX, never Spark, so Spark Connect is hidden from GX's probe while GX is imported, and
only then.
"""

from __future__ import annotations

import functools
import sys
from types import ModuleType

_SPARK_CONNECT = "pyspark.sql.connect"


@functools.cache
def great_expectations() -> ModuleType:
    """The `great_expectations` module, imported once with Spark Connect out of its sight."""
    hidden = _SPARK_CONNECT not in sys.modules
    if hidden:
        sys.modules[_SPARK_CONNECT] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import great_expectations as gx
    finally:
        if hidden and sys.modules.get(_SPARK_CONNECT, ...) is None:
            del sys.modules[_SPARK_CONNECT]
    return gx
