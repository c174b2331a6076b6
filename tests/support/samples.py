"""The public synthetic samples in the DfE's formats, beside the project (../shared/samples,
or CASETIME_SAMPLES): the connector tests import them, and are skipped where they are not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("CASETIME_SAMPLES") or ROOT.parent / "shared" / "samples")
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"the public samples are not at {SAMPLES} (CASETIME_SAMPLES)"
)
