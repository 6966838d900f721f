"""uvicorn's access line is a setting (issue 14): on by default, `access_log = false` (or
AZA_ACCESS_LOG=false) leaves each call with its audit event only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cds_service import cli


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("false", False), ("true", True)])
def test_issue14_serve_passes_the_access_log_setting_to_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    monkeypatch.setenv("AZA_DATABASE_URL", f"sqlite:///{tmp_path / 'cds.sqlite3'}")
    monkeypatch.delenv("AZA_FEEDBACK_DATABASE", raising=False)
    if value is not None:
        monkeypatch.setenv("AZA_ACCESS_LOG", value)
    monkeypatch.setenv("AZA_DEV", "true")
    assert cli.main(["serve", "--dev"]) == 0
    assert [kwargs["access_log"] for kwargs in started] == [expected]
