"""The README's examples run as written, so they cannot go stale."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip().startswith(("gpsimd-sim ", "python -m gpsimd_sim "))]


def python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("command", commands())
def test_a_readme_command_runs_as_written(command, tmp_path):
    args = command.split()[3 if command.startswith("python ") else 1:]
    proc = subprocess.run([sys.executable, "-m", "gpsimd_sim", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{command}: {proc.stderr}"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("code", python_examples())
def test_a_readme_python_example_runs(code, tmp_path):
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_the_readme_has_examples():
    assert len(commands()) >= 10 and python_examples()
