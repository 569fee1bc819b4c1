"""Run the real CLI entry point in-process and capture what a person would see."""

from __future__ import annotations

from dataclasses import dataclass

from click.testing import CliRunner

from tessera.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as streams:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = streams[0].getvalue(), streams[1].getvalue()
    return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
