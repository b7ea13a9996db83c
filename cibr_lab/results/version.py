"""Code version and configuration hash: what decides whether a stored record is reusable.

The code version is read from the package's own location (not the working folder): the last git
commit that touched the package folder, whether that folder has uncommitted changes, and a hash
of its source files (which also identifies an installed copy outside git).
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]
_PACKAGES = ("cibr_lab", "torch", "numpy", "open_clip_torch", "scikit-learn")
#: The package versions a record must share with the running code to be reused.
KEY_PACKAGES = ("cibr_lab", "torch", "open_clip_torch")
_SOURCES = ("*.py", "*.yaml", "*.json")


def config_hash(config: Mapping[str, Any]) -> str:
    """12 hex digits of the SHA-256 of the configuration's canonical JSON."""
    text = json.dumps(dict(config), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def source_hash(folder: Path = PACKAGE_DIR) -> str:
    """16 hex digits of the SHA-256 over the package's source files (names and contents)."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in _SOURCES for p in folder.rglob(pattern)})
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@cache
def code_version() -> dict[str, Any]:
    """``{"commit", "head", "dirty", "source"}`` of the package as it runs.

    ``commit`` is the last commit touching the package folder (None when the package is not
    tracked by git, e.g. installed from a wheel), ``head`` the repository's HEAD, ``dirty``
    whether the package folder differs from ``commit``, ``source`` :func:`source_hash`.
    """
    tracked = _git("ls-files", "--error-unmatch", "__init__.py") is not None
    commit = _git("log", "-1", "--format=%H", "--", ".") if tracked else None
    status = _git("status", "--porcelain", "--", ".") if tracked else None
    return {
        "commit": commit or None,
        "head": (_git("rev-parse", "HEAD") if tracked else None) or None,
        "dirty": bool(status) if tracked else None,
        "source": source_hash(),
    }


@cache
def package_versions() -> dict[str, str]:
    """Versions of python and the packages that decide the numbers."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def same_code(code: Mapping[str, Any] | None, versions: Mapping[str, str] | None) -> bool:
    """Whether a record's code version and key package versions equal the running ones."""
    if not code or not versions:
        return False
    now, now_versions = code_version(), package_versions()
    same_commit = all(code.get(k) == now[k] for k in ("commit", "dirty", "source"))
    return same_commit and all(versions.get(k) == now_versions.get(k) for k in KEY_PACKAGES)
