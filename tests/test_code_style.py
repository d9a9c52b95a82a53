"""The tree passes ruff (the dev extra installs it)."""

import shutil
import subprocess

import pytest

from tests.conftest import REPO


def test_ruff_check_passes():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed; pip install -e '.[dev]'")
    result = subprocess.run([ruff, "check", str(REPO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
