"""The fenced code blocks of README.md and docs/: what they are, where they stand, and whether to run them.

The fence's info string names the language, then flags: ```sh no-run marks a block that cannot run in a
test (it needs root, Docker, DNS, or is a fragment of a larger program).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
RUNNABLE = frozenset({"sh", "python"})
NO_RUN = "no-run"
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    language: str
    flags: frozenset[str]
    heading: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.language in RUNNABLE and NO_RUN not in self.flags


def snippets(paths: tuple[Path, ...] = DOCUMENTS) -> list[Snippet]:
    return [snippet for path in paths for snippet in _snippets_of(path)]


def _snippets_of(path: Path) -> list[Snippet]:
    text = path.read_text(encoding="utf-8")
    found, heading, prose_from = [], "", 0
    for fence in _FENCE.finditer(text):
        headings = _HEADING.findall(text, prose_from, fence.start())  # not the `# comments` of a block
        heading = headings[-1] if headings else heading
        prose_from = fence.end()
        info = fence.group(1).split()
        found.append(
            Snippet(
                path=path,
                line=text.count("\n", 0, fence.start()) + 1,
                language=info[0] if info else "",
                flags=frozenset(info[1:]),
                heading=heading,
                code=fence.group(2),
            )
        )
    return found
