"""The README, read in parts: its chapters, sections and fenced code blocks."""

from __future__ import annotations

from support import ROOT

README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    return README.split(f"\n### {title}", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]


def chapter(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of ``text`` in ``language`` ("" for plain output blocks)."""
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("```") and current is None:
            current = []
            blocks.append((line[3:], current))
        elif line.startswith("```"):
            current = None
        elif current is not None:
            current.append(line)
    return ["\n".join(lines) + "\n" for kind, lines in blocks if kind == language]
