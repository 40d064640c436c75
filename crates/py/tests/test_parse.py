"""`parse` and `recover_json` on real tool output and real LLM replies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import selfheal

TSC = "src/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.\n"


def test_a_diagnostic_has_attributes_a_dict_and_a_repr() -> None:
    (d,) = selfheal.parse(TSC)
    assert (d.tool, d.category, d.subcategory, d.severity) == ("tsc", "type", "type_mismatch", "error")
    assert (d.file, d.line, d.column, d.code) == ("src/app.ts", 12, 3, "TS2322")
    assert d.message == "Type 'string' is not assignable to type 'number'."
    assert d.log_lines == (1, 1)
    assert 0 < d.confidence <= 1 and d.fingerprint
    data = d.to_dict()
    assert data["file"] == "src/app.ts" and data["category"] == "type"
    assert selfheal.Diagnostic.from_dict(data) == d
    assert repr(d) == "<Diagnostic tsc error TS2322 type/type_mismatch src/app.ts:12:3: \"Type 'string' is not assignable to type 'number'.\">"


def test_bytes_colors_and_invalid_utf8_are_read() -> None:
    log = b"\x1b[31msrc/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.\x1b[0m \xff\n"
    (d,) = selfheal.parse(log)
    assert d.code == "TS2322"
    assert selfheal.parse("") == []
    with pytest.raises(TypeError):
        selfheal.parse(42)  # type: ignore[arg-type]


def _matches(truth: Dict[str, Any], found: selfheal.Diagnostic) -> bool:
    same_file = (truth.get("file") is None) == (found.file is None) and (
        truth.get("file") is None or Path(truth["file"]).name == Path(found.file or "").name
    )
    return same_file and truth.get("line") == found.line


def test_real_tool_logs_parse_as_their_ground_truth(fixtures: Path) -> None:
    """Every log of the public parser corpus, through the package: recall and precision on
    (file, line), and the category of what was found."""
    truths = found = matched = same_category = 0
    cases = sorted(fixtures.glob("parsers/*/*/truth.json"))
    assert len(cases) >= 250
    for truth_file in cases:
        truth: List[Dict[str, Any]] = json.loads(truth_file.read_text())["diagnostics"]
        parsed = selfheal.parse((truth_file.parent / "log.txt").read_bytes())
        truths += len(truth)
        found += len(parsed)
        used = [False] * len(parsed)
        for t in truth:
            for i, d in enumerate(parsed):
                if not used[i] and _matches(t, d):
                    used[i] = True
                    matched += 1
                    same_category += t.get("category") in (None, d.category)
                    break
    recall, precision = matched / truths, matched / found
    assert recall >= 0.95, f"recall {recall:.3f}"
    assert precision >= 0.95, f"precision {precision:.3f}"
    assert same_category / matched >= 0.9


PATTERN = {
    "name": "mytool",
    "regex": r"^(?P<file>[^:]+):(?P<line>\d+): (?P<severity>ERROR|WARN): (?P<message>.+)$",
    "category": "syntax",
    "triggers": [": ERROR: ", ": WARN: "],
}


def test_custom_formats_as_patterns_and_as_python_parsers() -> None:
    class Licenses:
        name = "licenses"

        def parse(self, log: str) -> List[Dict[str, Any]]:
            return [
                {"message": line.split(": ", 1)[1], "category": "dependency", "file": "package.json"}
                for line in log.splitlines()
                if line.startswith("LICENSE: ")
            ]

    log = "gen/a.conf:7: ERROR: unknown key `colour`\nLICENSE: left-pad is GPL\n"
    assert selfheal.parse(log) == []
    found = selfheal.parse(log, custom_formats=[PATTERN, Licenses()])
    by_tool = {d.tool: d for d in found}
    assert (by_tool["mytool"].file, by_tool["mytool"].line, by_tool["mytool"].category) == ("gen/a.conf", 7, "syntax")
    assert by_tool["licenses"].message == "left-pad is GPL"
    assert by_tool["licenses"].category == "dependency"


def test_custom_format_errors_are_clear() -> None:
    with pytest.raises(selfheal.ConfigError, match="invalid pattern"):
        selfheal.parse("x", custom_formats=[{**PATTERN, "regex": "(?P<file>"}])
    with pytest.raises(selfheal.ConfigError):
        selfheal.parse("x", custom_formats=[{"name": "no-regex"}])

    class Raising:
        def parse(self, log: str) -> List[Dict[str, Any]]:
            raise LookupError("parser bug")

    with pytest.raises(LookupError, match="parser bug"):
        selfheal.parse("anything\n", custom_formats=[Raising()])

    class Wrong:
        def parse(self, log: str) -> List[Dict[str, Any]]:
            return [{"file": "x"}]

    with pytest.raises(selfheal.ConfigError, match="needs a `message`"):
        selfheal.parse("anything\n", custom_formats=[Wrong()])


def test_real_llm_replies_recover_as_their_ground_truth(fixtures: Path) -> None:
    """The public JSON-recovery corpus (LLM-style replies with the value a careful human
    extracts), through the package. Cases nested deeper than Python's own json reads are
    left to the Rust tests."""
    checked = too_deep = 0
    for file in ("cases.jsonl", "generated.jsonl"):
        for line in (fixtures / "json" / file).read_text().splitlines():
            try:
                case = json.loads(line)
            except RecursionError:
                too_deep += 1
                continue
            schema = "fix" if case["schema"] == "fix" else None
            if case["expected"] is None:
                with pytest.raises(selfheal.JsonNotFound):
                    selfheal.recover_json(case["input"], schema)
            else:
                try:
                    recovered = selfheal.recover_json(case["input"], schema).value
                except selfheal.JsonTooDeep:
                    # Deeper than 128 levels is refused, never converted at the risk of the stack.
                    too_deep += 1
                    continue
                assert recovered == case["expected"], case["id"]
            checked += 1
    assert checked >= 500 and too_deep < 20


def test_recover_json_repairs_and_picks_by_schema() -> None:
    reply = 'Plan: {"step": 1}\nFix:\n```json\n{"analysis": "x", "fixes": [{"file": "a.ts",},],}\n```'
    assert selfheal.recover_json(reply).value == {"step": 1}
    fix = selfheal.recover_json(reply, "fix")
    assert fix.value == {"analysis": "x", "fixes": [{"file": "a.ts"}]}
    assert fix.stage == "extracted"
    assert {r["kind"] for r in fix.repairs} == {"trailing_comma"}
    start, end = fix.span
    assert reply[start:end].startswith('{"analysis"')
    assert selfheal.recover_json(reply, ["analysis"]).value == fix.value
    cut = selfheal.recover_json('{"fixes": [{"file": "a.ts", "content": "let x')
    assert cut.stage == "truncated" and cut.value["fixes"][0]["file"] == "a.ts"
    with pytest.raises(selfheal.JsonNotFound):
        selfheal.recover_json("no json here")
    with pytest.raises(selfheal.ConfigError):
        selfheal.recover_json("{}", "nonsense")
    with pytest.raises(selfheal.JsonTooDeep, match="nests deeper than 128 levels"):
        selfheal.recover_json("[" * 5000 + "]" * 5000)
    assert len(selfheal.recover_json("[" * 120 + "]" * 120).value) == 1
    with pytest.raises(selfheal.JsonTooDeep):
        selfheal.recover_json("[" * 129 + "]" * 129)
