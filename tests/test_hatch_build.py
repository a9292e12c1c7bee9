"""The build hook compiles every package's catalogues, so installs and wheels carry the translations."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.mofile import read_mo

from hatch_build import compile_catalogues

ROOT = Path(__file__).resolve().parents[1]


def test_compile_catalogues_writes_a_readable_mo(tmp_path):
    shutil.copytree(
        ROOT / "app" / "translations", tmp_path / "app" / "translations", ignore=shutil.ignore_patterns("*.mo")
    )

    written = compile_catalogues(tmp_path)

    assert written == [tmp_path / "app/translations/zh/LC_MESSAGES/messages.mo"]
    with written[0].open("rb") as handle:
        assert read_mo(handle).get("Sign in").string == "登录"
