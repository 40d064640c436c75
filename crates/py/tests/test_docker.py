"""`DockerBuilder` from Python against the real Docker engine: a project healed inside
locked-down containers, with nothing left behind. ``.ci/run`` starts the engine; the test image
is made from the host's static busybox, without any registry."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import List

import pytest

import selfheal
from conftest import QUICK

IMAGE = "selfheal-test-busybox:1"
STEP = "grep -q mode=ok app.conf || { echo 'app.conf:1: error: mode must be ok' >&2; exit 1; }"


def docker(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, timeout=120)


def busybox_root() -> bytes:
    """A root file system with the static busybox and a link per applet, as a tar."""
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder, mode in [("bin", 0o755), ("tmp", 0o1777), ("etc", 0o755), ("workspace", 0o755)]:
            entry = tarfile.TarInfo(folder)
            entry.type, entry.mode = tarfile.DIRTYPE, mode
            tar.addfile(entry)
        tar.add("/bin/busybox", arcname="bin/busybox")
        for applet in applets:
            if applet != b"busybox":
                link = tarfile.TarInfo(f"bin/{applet.decode()}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def engine() -> None:
    if shutil.which("docker") is None or docker("info").returncode != 0:
        # Only a developer's machine may lack the engine: in CI its absence is a failure.
        assert not os.environ.get("CI"), "CI must run the Docker tests: no engine answers"
        pytest.skip("no Docker engine answers (.ci/run starts one)")
    if docker("image", "inspect", IMAGE).returncode != 0:
        imported = docker("import", "-c", "ENV PATH=/bin", "-", IMAGE, stdin=busybox_root())
        assert imported.returncode == 0, imported.stderr


def containers() -> List[str]:
    return docker("ps", "-aq", "--filter", "label=dev.selfheal").stdout.decode().split()


class ConfigModel:
    """Answers with the one fix the project needs."""

    def __init__(self) -> None:
        self.prompts: List[str] = []

    def complete(self, request: selfheal.Request) -> str:
        self.prompts.append(request.messages[-1].content)
        fix = {"file": "app.conf", "action": "patch", "search": "mode=broken", "replace": "mode=ok"}
        return json.dumps({"fixes": [fix]})


async def test_a_project_is_healed_inside_containers(engine: None, tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("mode=broken\n")
    model = ConfigModel()
    healer = selfheal.Healer(
        provider=model,
        builder=selfheal.DockerBuilder(IMAGE, memory_mib=64, timeout=60),
        config=QUICK,
    )
    before = containers()
    report = await healer.heal(tmp_path, [STEP])
    assert report.outcome == "healed", report.to_dict()
    assert (tmp_path / "app.conf").read_text() == "mode=ok\n"
    assert "at app.conf:1\n   mode must be ok" in model.prompts[0]
    assert containers() == before


def test_the_container_has_no_network_unless_asked(engine: None, tmp_path: Path) -> None:
    offline = selfheal.Healer(builder=selfheal.DockerBuilder(IMAGE, timeout=60), config=QUICK)
    report = offline.heal_sync(tmp_path, ["ip -o link | grep -v ' lo:' && exit 1 || exit 0"])
    assert report.outcome == "already_green", report.to_dict()
    online = selfheal.Healer(builder=selfheal.DockerBuilder(IMAGE, network=True, timeout=60), config=QUICK)
    report = online.heal_sync(tmp_path, ["ip -o link | grep -v ' lo:' && exit 1 || exit 0"])
    assert report.outcome != "already_green"
