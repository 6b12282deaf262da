"""Regenerate docs/cli.md from the CLI's own --help (run after adding or changing a command)."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from carejourney.cli import app

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def main() -> None:
    group = typer.main.get_command(app)
    runner = CliRunner()
    parts = ["# Command-line reference", "", "Generated from `--help` by `scripts/gen_cli_docs.py`.", ""]
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "100", "NO_COLOR": "1"}, terminal_width=100)
    parts += ["## carejourney", "", "```", ANSI.sub("", top.output).strip(), "```", ""]
    for name in sorted(group.commands):
        res = runner.invoke(app, [name, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"}, terminal_width=100)
        parts += [f"## carejourney {name}", "", "```", ANSI.sub("", res.output).strip(), "```", ""]
    out = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    out.write_text("\n".join(parts))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
