"""The kernels and models the project ships, installed with the package.

``kernels`` and ``models`` here are links to the project's top-level folders, so an
installed gpsimd_sim (``pip install .``, not editable) still finds them: ``run relu_tcm``
or ``run kernels/relu_tcm.py`` from any folder, and ``mlp``/``validate`` their model.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def root() -> Path:
    return Path(str(resources.files("gpsimd_sim.shipped")))


def find(path: str, folder: str) -> str | None:
    """A shipped file by the name a user gives it, or None.

    ``relu_tcm``, ``relu_tcm.py`` and ``kernels/relu_tcm.py`` all name
    kernels/relu_tcm.py; ``cpp/neuron-tcm/relu.cpp`` names that C++ kernel.
    """
    base = root() / folder
    name = path[len(folder) + 1:] if path.startswith(folder + "/") else path
    for candidate in (name, f"{name}.py"):
        p = base / candidate
        if p.is_file():
            return str(p)
    return None


def available(folder: str) -> list[str]:
    """Short names of the shipped files of ``folder`` (for messages and --help)."""
    base = root() / folder
    return sorted(str(p.relative_to(base)) for p in base.rglob("*.py")
                  if p.name != "__init__.py" and "__pycache__" not in p.parts)


def resolve_path(path: str) -> str:
    """A path as given if it exists, else a shipped model or kernel of that name
    (``models/mlp.py``, ``kernels/relu_tcm.py``, ``relu_tcm``), else the path unchanged."""
    if Path(path).exists():
        return path
    if path.startswith("models/"):
        return find(path, "models") or path
    return find(path, "kernels") or find(path, "models") or path


def is_shipped(path: str) -> bool:
    """True for one of the project's own kernel files: the simulator's own code, which
    validate, calibrate and the ensemble may run in their own process and keep on disk."""
    try:
        Path(resolve_path(path)).resolve().relative_to((root() / "kernels").resolve())
        return True
    except (ValueError, OSError):
        return False
