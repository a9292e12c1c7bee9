"""`milepost knowledge install` and `milepost knowledge import FILE` (all or nothing, rows listed, exit 2)."""

from __future__ import annotations

from sqlalchemy import func, select

from knowledge.models import FaultEntry

GOOD = (
    "scheme,code,fmi,engine_family,title_zh,title_en,text_zh,text_en,severity,may_continue,service\n"
    "j1939,3251,0,weichai,潍柴 DPF 堵塞,Weichai DPF blocked,说明,Text,service_soon,limited,engine\n"
    "blink,2-2-1,,weichai,闪码 221,Blink 221,说明,Text,service_soon,limited,engine\n"
)


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(FaultEntry))


def test_install_loads_the_shipped_entries(app, session):
    result = app.test_cli_runner().invoke(args=["knowledge", "install"])

    assert result.exit_code == 0, result.output
    assert _count(session) > 60


def test_import_loads_an_oem_table(app, session, tmp_path):
    path = tmp_path / "weichai.csv"
    path.write_text(GOOD, encoding="utf-8")

    result = app.test_cli_runner().invoke(args=["knowledge", "import", str(path)])

    assert result.exit_code == 0, result.output
    assert "2 entries added" in result.output
    assert set(session.scalars(select(FaultEntry.source))) == {"oem_import"}


def test_import_with_bad_rows_lists_them_by_line_and_imports_nothing(app, session, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(GOOD + "j1939,999999,0,,x,x,t,t,stop,no,engine\nj1939,100,1,,x,x,t,t,stop,maybe,engine\n")

    result = app.test_cli_runner().invoke(args=["knowledge", "import", str(path)])

    assert result.exit_code == 2
    assert "row 4: spn" in result.output and "row 5: may_continue" in result.output
    assert _count(session) == 0
