"""FixCache: what a heal learned, looked up, exported, imported and pruned."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import selfheal
from conftest import QUICK, Project, fix_reply


class Model:
    def complete(self, request: selfheal.Request) -> str:
        return fix_reply()


def test_a_learned_fix_is_looked_up_exported_and_imported(tmp_path: Path) -> None:
    cache = selfheal.FixCache(tmp_path / "cache")
    assert cache.stats()["fixes"] == 0
    project = Project(tmp_path / "app")
    ran = subprocess.run(project.steps[0], shell=True, cwd=project.root, capture_output=True, text=True)
    broken = selfheal.parse(ran.stderr)
    assert cache.lookup(broken[0]) is None

    report = selfheal.Healer(provider=Model(), cache=cache, config=QUICK).heal_sync(project.root, project.steps)
    assert report.outcome == "healed"
    stats = cache.stats()
    assert stats["fixes"] == 1 and stats["successes"] >= 1

    hit = cache.lookup(broken[0])
    assert hit is not None
    assert hit["fix"]["proposal"]["edits"][0]["path"] == "main.py"
    assert hit["score"]["similarity"] == pytest.approx(1.0)
    # A dict works as well as a Diagnostic.
    assert cache.lookup(broken[0].to_dict()) is not None

    exported = tmp_path / "fixes.jsonl"
    assert cache.export(exported) == 1
    other = selfheal.FixCache(tmp_path / "other")
    assert other.import_(exported) == {"read": 1, "added": 1, "refused": 0}
    assert other.lookup(broken[0]) is not None
    assert other.import_(exported) == {"read": 1, "added": 0, "refused": 0}
    assert other.prune() == 0
    assert repr(other) == f"<FixCache {tmp_path / 'other'}>"


def test_a_bad_import_fails_before_storing_anything(tmp_path: Path) -> None:
    cache = selfheal.FixCache(tmp_path / "cache")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    with pytest.raises(selfheal.ConfigError, match="import line 1"):
        cache.import_(bad)
    with pytest.raises(selfheal.CacheError):
        cache.import_(tmp_path / "missing.jsonl")
    assert cache.stats()["fixes"] == 0
    (tmp_path / "file").write_text("")
    with pytest.raises(selfheal.SelfHealError):
        selfheal.FixCache(tmp_path / "file")


@pytest.fixture
def fleet_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on the fleet test server (`SELFHEAL_TEST_PG_URL`)."""
    admin = os.environ.get("SELFHEAL_TEST_PG_URL")
    if not admin:
        # Only a developer's machine may lack the server: in CI its absence is a failure.
        assert not os.environ.get("CI"), "CI must run the fleet tests: SELFHEAL_TEST_PG_URL is not set"
        pytest.skip("SELFHEAL_TEST_PG_URL is not set (.ci/run starts a server)")
    name = f"selfheal_py_{request.node.name[:30]}_{os.getpid()}".lower()
    for statement in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", admin, "-qc", statement], check=True)
    return admin.rsplit("/", 1)[0] + "/" + name


def test_a_fix_learned_by_one_worker_serves_another_through_the_fleet(tmp_path: Path, fleet_url: str) -> None:
    learner = selfheal.FixCache(tmp_path / "a", url=fleet_url)
    project = Project(tmp_path / "app")
    ran = subprocess.run(project.steps[0], shell=True, cwd=project.root, capture_output=True, text=True)
    broken = selfheal.parse(ran.stderr)
    report = selfheal.Healer(provider=Model(), cache=learner, config=QUICK).heal_sync(project.root, project.steps)
    assert report.outcome == "healed"
    learner.sync()

    other = selfheal.FixCache(tmp_path / "b", url=fleet_url)
    other.sync()
    hit = other.lookup(broken[0])
    assert hit is not None
    assert hit["fix"]["proposal"]["edits"][0]["path"] == "main.py"


def test_an_unreachable_fleet_leaves_the_cache_working(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The URL may come from the environment, as in the CLI.
    monkeypatch.setenv("SELFHEAL_CACHE_URL", "postgres://selfheal@127.0.0.1:1/nowhere")
    cache = selfheal.FixCache(tmp_path / "cache")
    assert cache.stats()["fixes"] == 0
    with pytest.raises(selfheal.CacheError, match="fleet store"):
        cache.sync()
    with pytest.raises(selfheal.ConfigError, match="fleet cache URL"):
        selfheal.FixCache(tmp_path / "other", url="postgres://x:y:z")
