"""The package as shipped: stubs, docstrings, typed examples that run."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

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
                 "WorkspaceError", "JsonNotFound"):
        assert issubclass(getattr(selfheal, name), selfheal.SelfHealError)
    assert issubclass(selfheal.SelfHealError, Exception)


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
