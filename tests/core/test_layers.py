"""The layers stated in pyproject.toml (`[tool.importlinter]`) hold: an import that runs
upward, or a model that imports a model above it at run time, fails here.

Each contract is its own test, read from the configuration, so a new contract is checked
without touching this file.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from importlinter import cli as importlinter_cli

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"

EXPECTED_TO_FAIL: dict[str, str] = {}


def _contract_ids() -> list[str]:
    config = tomllib.loads(PYPROJECT.read_text())
    return [contract["id"] for contract in config["tool"]["importlinter"]["contracts"]]


def _param(contract_id: str) -> object:
    reason = EXPECTED_TO_FAIL.get(contract_id)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(contract_id, id=contract_id, marks=marks)


@pytest.fixture(autouse=True)
def _loggers_left_enabled() -> Iterator[None]:
    # import-linter configures logging with the default disable_existing_loggers=True:
    # every logger made before it ran (the API's access log among them) would stay
    # silent for the tests after this one.
    loggers = [logger for logger in logging.Logger.manager.loggerDict.values()
               if isinstance(logger, logging.Logger)]
    disabled = {logger.name: logger.disabled for logger in loggers}
    yield
    for logger in loggers:
        logger.disabled = disabled[logger.name]


@pytest.mark.parametrize("contract_id", [_param(c) for c in _contract_ids()])
def test_contract_is_kept(
    contract_id: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The graph is built from the source files of this checkout, whatever is installed.
    monkeypatch.syspath_prepend(str(ROOT))
    exit_code = importlinter_cli.lint_imports(
        config_filename=str(PYPROJECT),
        limit_to_contracts=(contract_id,),
        no_cache=True,
        no_logo=True,
    )
    report = capsys.readouterr().out
    assert exit_code == 0, report

