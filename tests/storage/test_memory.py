"""A 128 MiB file streamed through put_stream and back does not grow the process by anything
like its size (loadtests/storage_memory.py measures; here its figures are checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SIZE_MIB = 128
# The upload holds about one block, a few multipart parts in flight and obstore's buffers
# (about 8 MiB locally, 14 MiB to S3 when measured); a file held whole would be 128.
LIMIT_MIB = 40


def test_a_large_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [
            sys.executable,
            "loadtests/storage_memory.py",
            "--size-mib",
            str(SIZE_MIB),
            "--backend",
            "both",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert [f["backend"] for f in figures] == ["local", "s3 (moto)"]
    for f in figures:
        assert f["size_mib"] == SIZE_MIB
        assert f["upload_peak_growth_mib"] < LIMIT_MIB, f
        assert f["download_peak_growth_mib"] < LIMIT_MIB, f
