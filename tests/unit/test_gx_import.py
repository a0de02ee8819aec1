"""With the spark extra installed, a `python -c` process that validates with GX keeps running.

pyspark 4 ends a process that imports Spark Connect from a main module without a file (it takes
it for a doctest run: "Skipping doctests", exit 0); GX imports Spark Connect while probing for
pyspark. A loader started with `python -c` stopped after listing the files and reported success.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed: nothing to guard"
)


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_importing_gx_through_the_guard_does_not_end_the_process():
    done = run("from orchestration.ingestion.gx_import import great_expectations\n"
               "gx = great_expectations()\n"
               "print('still running', gx.__name__)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "still running great_expectations" in done.stdout, done.stderr[-2000:]


def test_spark_connect_is_importable_again_afterwards():
    done = run("import sys\n"
               "from orchestration.ingestion.gx_import import great_expectations\n"
               "great_expectations()\n"
               "print('pyspark.sql.connect' not in sys.modules or "
               "sys.modules['pyspark.sql.connect'] is not None)")
    assert done.stdout.strip().endswith("True"), done.stderr[-2000:]
