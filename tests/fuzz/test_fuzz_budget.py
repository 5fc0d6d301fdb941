"""The fuzz budget: the "ci" profile by default, "thorough" with --hypothesis-profile or HYPOTHESIS_PROFILE."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import settings

from fuzzing import budget
from helpers import REPO

PROBE = "BPCLI_EXPECTED_PROFILE"


def probe_the_profile_in_use():
    """Collected only by the test below (-o python_functions=probe_*), in a fresh pytest that says which
    profile it asked for: the suite itself may run under either."""
    expected = os.environ[PROBE]
    assert settings.default.max_examples == settings.get_profile(expected).max_examples
    assert budget(2.0).max_examples == 2 * settings.get_profile(expected).max_examples


@pytest.mark.parametrize(
    "options, environment, passes",
    [
        (["--hypothesis-profile=thorough"], {PROBE: "thorough"}, True),
        ([], {PROBE: "thorough", "HYPOTHESIS_PROFILE": "thorough"}, True),
        ([], {PROBE: "ci"}, True),
        ([], {PROBE: "thorough"}, False),  # without either, ci: the probe can tell
    ],
)
def test_choosing_the_thorough_profile(options, environment, passes):
    env = {key: value for key, value in os.environ.items() if key != "HYPOTHESIS_PROFILE"}
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "python_functions=probe_*", *options,
         "tests/fuzz/test_fuzz_budget.py::probe_the_profile_in_use"],
        cwd=REPO, env={**env, **environment}, capture_output=True, text=True, timeout=120,
    )
    assert (process.returncode == 0) == passes, process.stdout[-2000:]
