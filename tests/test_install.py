"""A user's install: build the wheel, install it (not editable) into a fresh virtual
environment, and use it from a folder that is not the checkout."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder of a fresh venv holding the built wheel, a working folder outside)."""
    base = tmp_path_factory.mktemp("install")
    wheels = base / "wheels"
    # a clean copy of the sources: a stale build/ folder of the checkout would leak old
    # files into the wheel
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", ".git", ".ci-venv", ".ci-cache", ".venv", "__pycache__",
        ".hypothesis", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(wheels), str(source)], check=True, capture_output=True,
                   timeout=300)
    venv = base / "venv"
    # the dependencies (numpy, numba, ...) come from this environment; the package itself
    # only from the wheel
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    wheel = next(wheels.glob("gpsimd_sim-*.whl"))
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    work = base / "elsewhere"
    work.mkdir()
    return venv / "bin", work


def cli(installed, *args):
    bin_dir, work = installed
    env = dict(os.environ, GPSIMD_SIM_CACHE_DIR=str(work / "cache"),
               GPSIMD_SIM_CONFIG_DIR=str(work / "config"))
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(bin_dir / "gpsimd-sim"), *args], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_installed_package_is_not_the_checkout(installed):
    bin_dir, work = installed
    proc = subprocess.run([str(bin_dir / "python"), "-c",
                           "import gpsimd_sim; print(gpsimd_sim.__file__)"], cwd=work,
                          capture_output=True, text=True, timeout=60)
    assert str(ROOT) not in proc.stdout and "site-packages" in proc.stdout


def test_version(installed):
    proc = cli(installed, "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("gpsimd-sim ")


@pytest.mark.parametrize("kernel", ["relu_elementwise", "relu_tcm", "relu_multicore",
                                    "kernels/relu_tcm.py", "cpp/neuron-tcm/relu.cpp"])
def test_shipped_kernels_run_by_short_name_from_any_folder(installed, kernel):
    proc = cli(installed, "run", kernel, "--shape", "4x256")
    assert proc.returncode == 0, proc.stderr
    assert "correct          yes" in proc.stdout


@pytest.mark.parametrize("command", [["validate"], ["mlp"], ["calibrate", "--dry-run"]])
def test_workload_commands_find_their_model_from_any_folder(installed, command):
    proc = cli(installed, *command)
    assert proc.returncode in (0, 1), proc.stderr   # validate exits 1 if a prediction misses
    assert "Traceback" not in proc.stderr and "no such model" not in proc.stderr
