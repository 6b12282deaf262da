"""The Spark engine's local session leaves nothing behind (no Spark needed to check it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_local_warehouse_folder_is_one_per_process_and_removed_at_exit():
    code = ("from carejourney.engines.spark import warehouse_dir; "
            "a = warehouse_dir(); b = warehouse_dir(); assert a == b; print(a)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    folder = Path(out.stdout.strip())
    assert folder.name.startswith("carejourney-spark-")
    assert not folder.exists()  # removed when the process exited
