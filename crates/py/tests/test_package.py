"""The package as shipped: stubs, docstrings, typed examples that run, and the wheel installed
where no Rust toolchain is."""

from __future__ import annotations

import ast
import inspect
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict

import pytest

import selfheal
from conftest import REPO

PACKAGE = Path(selfheal.__file__).parent
EXAMPLES = REPO / "examples" / "python"


def test_version_stubs_and_marker_ship_in_the_package() -> None:
    assert selfheal.__version__.count(".") == 2
    assert (PACKAGE / "py.typed").exists()
    stub = ast.parse((PACKAGE / "_native.pyi").read_text())
    stubbed = {node.name for node in stub.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    stubbed |= {t.id for node in stub.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    stubbed |= {node.target.id for node in stub.body if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}
    native = {name for name in dir(selfheal._native) if not name.startswith("_")} | {"__version__"}
    assert native - stubbed == set(), "names without a stub"
    assert set(selfheal.__all__) - set(dir(selfheal)) == set()


def test_every_public_class_and_function_has_a_docstring() -> None:
    missing = []
    for name in selfheal.__all__:
        item = getattr(selfheal, name)
        if inspect.isclass(item) or callable(item):
            if not (item.__doc__ or "").strip():
                missing.append(name)
            for member_name, member in vars(item).items() if inspect.isclass(item) else []:
                if member_name.startswith("_") or not (callable(member) or isinstance(member, property)):
                    continue
                if not (getattr(member, "__doc__", None) or "").strip():
                    missing.append(f"{name}.{member_name}")
    assert missing == []


def test_exceptions_form_one_hierarchy() -> None:
    for name in ("ProviderError", "BuildError", "ConfigError", "CacheError", "BudgetExceeded", "Cancelled",
                 "WorkspaceError", "JsonNotFound", "JsonTooDeep"):
        assert issubclass(getattr(selfheal, name), selfheal.SelfHealError)
    assert issubclass(selfheal.SelfHealError, Exception)
    assert issubclass(selfheal.JsonTooDeep, selfheal.JsonNotFound)


def test_the_examples_type_check_strictly() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir=/dev/null", str(EXAMPLES)],
        capture_output=True, text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def run_example(name: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], input=stdin, capture_output=True,
                          timeout=600)


def test_the_parse_example_reads_a_real_log() -> None:
    log = (REPO / "tests/fixtures/parsers/tsc/config-npm/log.txt").read_bytes()
    ran = run_example("parse_log.py", stdin=log)
    assert ran.returncode == 1, ran.stderr
    assert b"2 diagnostics: 2 configuration" in ran.stdout


def test_the_own_model_example_heals() -> None:
    ran = run_example("own_model.py")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.startswith(b"healed: 1 request(s)")


def test_the_heal_example_heals_the_bundled_rust_project() -> None:
    ran = run_example("heal_project.py")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert b"healed after" in ran.stdout
    assert b"+    let mut book = Ledger::new();" in ran.stdout


def built_packages() -> Path:
    """The folder scripts/package built into (scripts/test sets SELFHEAL_DIST)."""
    folder = os.environ.get("SELFHEAL_DIST")
    if not folder:
        if os.environ.get("CI"):
            pytest.fail("CI must test the built packages: SELFHEAL_DIST is not set")
        pytest.skip("SELFHEAL_DIST is not set (scripts/test builds the packages into it)")
    return Path(folder)


def without_rust() -> Dict[str, str]:
    """This environment with every folder that holds cargo or rustc taken off PATH."""
    folders = os.environ["PATH"].split(os.pathsep)
    kept = [f for f in folders if not any(os.path.exists(os.path.join(f, t)) for t in ("cargo", "rustc"))]
    return {**os.environ, "PATH": os.pathsep.join(kept)}


def test_the_wheel_installs_without_a_rust_toolchain_and_the_examples_run(tmp_path: Path) -> None:
    dist = built_packages()
    wheels = sorted(dist.glob(f"selfheal-{selfheal.__version__}-cp39-abi3-*.whl"))
    assert len(wheels) == 1, sorted(p.name for p in dist.iterdir())
    if sys.platform == "linux":
        assert "-manylinux_2_28_" in wheels[0].name, "linked against an old glibc, as checked by maturin"
    env = without_rust()
    assert shutil.which("cargo", path=env["PATH"]) is None
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "--no-index", "--disable-pip-version-check",
                                str(wheels[0])], env=env, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    def run(name: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([python, str(EXAMPLES / name)], input=stdin, env=env, capture_output=True,
                              cwd=tmp_path, timeout=600)

    healed = run("own_model.py")
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert healed.stdout.startswith(b"healed: 1 request(s)")
    parsed = run("parse_log.py", (REPO / "tests/fixtures/parsers/tsc/config-npm/log.txt").read_bytes())
    assert b"2 diagnostics: 2 configuration" in parsed.stdout, parsed.stderr
    where = subprocess.run([python, "-c", "import selfheal; print(selfheal.__file__)"], env=env,
                           capture_output=True, text=True, cwd=tmp_path)
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr


def test_the_source_distribution_holds_what_a_build_from_source_needs() -> None:
    sdist = built_packages() / f"selfheal-{selfheal.__version__}.tar.gz"
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "crates/core/src/lib.rs", "crates/py/src/lib.rs",
                   "python/selfheal/__init__.py", "LICENSE-MIT", "LICENSE-APACHE"):
        assert needed in names, needed
