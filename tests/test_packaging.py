"""What the wheel installs: everything under the one `spanhouse` namespace, so that nothing of
ours shadows a generic top-level name (`proto` is proto-plus's, used by Google's client libraries)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Final

import pytest

REPO: Final = Path(__file__).resolve().parents[1]
FOLDERS: Final = ("collector", "adapters", "exporters", "proto")


def test_every_package_of_the_tree_is_in_the_wheel_list() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    in_tree = {".".join(("spanhouse", *init.parent.relative_to(REPO).parts))
               for folder in FOLDERS for init in (REPO / folder).rglob("__init__.py")}
    assert listed == in_tree


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # The build copies the tree into its own build directory first (setuptools' default), and
    # without build isolation it needs nothing from a package index.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(REPO)], check=True, cwd=out, timeout=300)
    [built] = out.glob("spanhouse-*.whl")
    return built


def test_the_wheel_installs_nothing_outside_the_spanhouse_name(wheel: Path) -> None:
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"spanhouse"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "spanhouse/exporters/clickhouse/sql/traces_table.sql" in names  # package data came along
    assert "spanhouse/collector/extensions/query_api/static/index.html" in names


def test_installed_beside_proto_plus_both_import(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    program = (
        "import proto, spanhouse.proto.errors, spanhouse.proto.otlp_json, spanhouse.collector.core.errors\n"
        "assert hasattr(proto, 'Message') and hasattr(proto, 'Field'), proto.__file__\n"  # proto-plus's API
        f"assert spanhouse.proto.errors.__file__.startswith({str(site)!r})\n"
        "print('ok')\n")
    # The installed wheel first on the path, then the environment's own packages (proto-plus,
    # protobuf, grpcio); run from a folder outside the repository so its folders are not found.
    environment = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n" + program],
                            capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr
