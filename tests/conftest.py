"""Hypothesis profiles: a bounded budget for CI, a long one for local runs."""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))  # tests import their helpers module

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items):
    """The fuzz harness runs hundreds of generated cases per test: slow by design (-m "not slow" skips it)."""
    import pytest

    for item in items:
        if "fuzz" in item.path.parts:
            item.add_marker(pytest.mark.slow)


def pytest_configure(config):
    """Tables take COLUMNS when piped: the tests' expectations are for the default width, whatever
    the shell running them exports (tests that need a width set it themselves)."""
    os.environ.pop("COLUMNS", None)



@pytest.fixture(scope="module", params=["few_points", "numpy"])
def points_path(request):
    """A --points test runs on both paths: small text tables row by row on numbers (few_points, the
    command's first choice), and with that path turned off, the numpy path alone (grad_points)."""
    from bpcli.analyses import few_points

    with pytest.MonkeyPatch.context() as patch:
        if request.param == "numpy":
            patch.setattr(few_points, "SMALL_BYTES", -1)  # no table is small enough
        yield request.param
