"""Every message of tests/corpus/verification: the best code (or none) and the kinds of its links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailservice.adapters.extract import CONFIDENT_SCORE, extract_codes, extract_links

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "verification"
CASES = sorted(CORPUS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_corpus_has_at_least_60_messages_and_20_adversarial_ones() -> None:
    # Adversarial: a decoy beside or instead of the code (quoted history, hidden HTML, order, tracking,
    # phone and postal numbers, dates, prices), or no code where numbers abound.
    assert len(CASES) >= 60
    assert sum(load(path).get("adversarial", False) is True for path in CASES) >= 20


def test_corpus_covers_messages_with_and_without_codes() -> None:
    expected = [load(path)["expected_code"] for path in CASES]
    assert sum(code is None for code in expected) >= 15
    assert sum(code is not None for code in expected) >= 40


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_top_code_is_the_expected_one_or_there_is_none(path: Path) -> None:
    case = load(path)
    found = extract_codes(case["subject"], case["text"], case["html"])
    if case["expected_code"] is None:
        assert found == []
    else:
        assert found, "no code found"
        assert found[0].code == case["expected_code"]
        assert found[0].score >= CONFIDENT_SCORE
        assert case["expected_code"].replace(" ", "") in found[0].context.replace(" ", "")


@pytest.mark.parametrize(
    "path",
    [path for path in CASES if "expected_link_kinds" in load(path)],
    ids=[path.stem for path in CASES if "expected_link_kinds" in load(path)],
)
def test_links_have_the_expected_kinds(path: Path) -> None:
    case = load(path)
    kinds = {link.url: link.kind for link in extract_links(case["text"], case["html"])}
    for url, kind in case["expected_link_kinds"].items():
        assert kinds.get(url) == kind, url
