"""pytest set-up for the Python package: the build's package directory and the program come from
the environment ctest sets (TMLP_PYTHONPATH, TMLP_CLI); the bundled data from tests/data."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")

if os.environ.get("TMLP_PYTHONPATH"):
    sys.path.insert(0, os.environ["TMLP_PYTHONPATH"])


@pytest.fixture
def data_dir():
    return DATA


@pytest.fixture
def tmlp_cli():
    path = os.environ.get("TMLP_CLI")
    if not path:
        pytest.fail("TMLP_CLI (the tmlp program) is not set; run the tests through ctest")
    return path
