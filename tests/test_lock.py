"""The lock: uv.lock agrees with pyproject.toml's ranges and requirements/*.txt are its exports
(what `make lock-check` runs first in `make test`), and a range changed without `make lock` is
caught. Offline: uv reads only the files (and its cache), never the network."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import BASE_DIR

UV = Path(sys.executable).with_name("uv")


def uv(*args: str, cwd: Path, env_cache: Path) -> subprocess.CompletedProcess:
    if not UV.exists():
        pytest.fail(f"uv is missing beside {sys.executable}: it is a dev dependency (make test)")
    return subprocess.run(
        [str(UV), *args, "--offline", "--quiet"], cwd=cwd, capture_output=True, text=True,
        timeout=120, check=False, env={"PATH": "/usr/bin:/bin", "UV_CACHE_DIR": str(env_cache)},
    )  # fmt: skip


@pytest.fixture
def project(tmp_path) -> Path:
    """pyproject.toml and uv.lock alone in a folder of their own."""
    folder = tmp_path / "project"
    folder.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(BASE_DIR / name, folder / name)
    return folder


def test_the_lock_agrees_with_pyproject_and_the_requirements_are_its_exports(project, tmp_path):
    assert uv("lock", "--locked", cwd=project, env_cache=tmp_path / "cache").returncode == 0
    for name, extra in (("runtime", ()), ("dev", ("--extra", "dev"))):
        exported = uv("export", "--frozen", "--no-emit-project", "--no-header",
                      "--format", "requirements-txt", *extra,
                      cwd=project, env_cache=tmp_path / "cache")  # fmt: skip
        assert exported.returncode == 0, exported.stderr
        committed = (BASE_DIR / "requirements" / f"{name}.txt").read_text()
        assert exported.stdout == committed, f"requirements/{name}.txt is not uv.lock's export"


def test_a_range_changed_without_make_lock_is_caught(project, tmp_path):
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert '"holidays>=0.60,<1"' in text
    pyproject.write_text(text.replace('"holidays>=0.60,<1"', '"holidays>=0.60,<0.100"'))

    checked = uv("lock", "--locked", cwd=project, env_cache=tmp_path / "cache")

    assert checked.returncode != 0
