"""The project's entry points: README Quickstart and CLI sizes.

Every README block runs as written, in a fresh process and directory, in tests/test_readme.py.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _code_blocks(section_title, language="[a-z]*"):
    section = re.search(rf"^## {section_title}\s*$(.*?)(?=^## |\Z)", README, re.M | re.S).group(1)
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_quickstart_has_exactly_two_commands():
    """.ci/run runs the second one; the first installs and runs the main job."""
    commands = [line for line in _code_blocks("Quickstart")[0].splitlines() if line.strip()]
    assert len(commands) == 2
    install_and_run, test = commands
    assert "pip install" in install_and_run and ".[bench]" in install_and_run
    assert install_and_run.endswith("fastglorot bench")
    assert "pip install" in test and ".[test]" in test and "pytest" in test
    assert "README.md" in (REPO / ".ci" / "run").read_text()


@pytest.mark.parametrize("text, expected", [("1GiB", 2**30), ("1G", 2**30), ("1GB", 10**9),
                                            ("256MiB", 2**28), ("4096", 4096), ("1.5KiB", 1536)])
def test_cli_sizes(text, expected):
    from fastglorot._cli import parse_size

    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "-1GiB", "0", "1XB"])
def test_cli_bad_sizes(text):
    import argparse

    from fastglorot._cli import parse_size

    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)


def test_every_readme_citation_in_the_package_names_a_heading():
    """Docstrings and messages cite README sections as ``README "Title"``; each title must be a heading."""
    headings = {re.sub(r"\s+", " ", h).strip() for h in re.findall(r"^#{2,4} (.+)$", README, re.M)}
    cited = {}
    for path in (REPO / "fastglorot").rglob("*.py"):
        for title in re.findall(r'README\s+"([^"]+)"', path.read_text()):
            # wrapped docstrings break a title across lines (with indentation and comment marks)
            cited.setdefault(re.sub(r"[\s#]+", " ", title).strip(), set()).add(path.name)
    assert cited, "no citations found: the pattern is wrong"
    missing = {title: sorted(files) for title, files in cited.items() if title not in headings}
    assert not missing, missing
