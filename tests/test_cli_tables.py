"""People's output on the command line: a summary line first, then a table, in the chosen
language with campus-local times; ``--json`` for machines; progress bars only on a
terminal."""

from __future__ import annotations

import io
import json

import pytest

from api.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from ingest.files.demo import build_demo
    from layers.store import open_store

    d = tmp_path_factory.mktemp("cli-tables")
    s = open_store(None, str(d))
    build_demo(s, campus_id="hki")
    s.close()
    assert (
        main(
            [
                "risk",
                "hazards",
                "report",
                "--campus",
                "hki",
                "--category",
                "fire",
                "--description",
                "消防通道堵塞",
                "--reporter",
                "李",
                "--lon",
                "24.9495",
                "--lat",
                "60.1712",
                "--data",
                str(d),
            ]
        )
        == 0
    )
    return str(d)


def test_hazard_list_is_a_table_with_a_summary_first_in_chinese_by_default(
    data, capsys, monkeypatch
):
    monkeypatch.delenv("XIAOAN_LANG", raising=False)
    capsys.readouterr()
    assert main(["risk", "hazards", "list", "--data", data]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("共 1 条隐患") and "未销号 1 条" in lines[0]
    assert "描述" in lines[1] and "状态" in lines[1]  # the header
    row = next(x for x in lines if "消防通道堵塞" in x)
    assert "已上报" in row and "hki" in row
    with pytest.raises(json.JSONDecodeError):
        json.loads("\n".join(lines))


def test_hazard_list_in_english_with_lang_or_the_environment(data, capsys, monkeypatch):
    capsys.readouterr()
    assert main(["--lang", "en", "risk", "hazards", "list", "--data", data]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "1 hazard(s): 1 open, 0 overdue"
    assert "description" in out and "reported" in out
    monkeypatch.setenv("XIAOAN_LANG", "en")
    assert main(["risk", "hazards", "list", "--data", data]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "1 hazard(s): 1 open, 0 overdue"


def test_hazard_list_times_are_campus_local(data, capsys):
    import datetime as dt
    from zoneinfo import ZoneInfo

    capsys.readouterr()
    assert main(["risk", "hazards", "list", "--json", "--data", data]) == 0
    (h,) = json.loads(capsys.readouterr().out)
    t = dt.datetime.fromisoformat(h["reported_at"].replace("Z", "+00:00"))
    local = t.astimezone(ZoneInfo("Europe/Helsinki")).strftime("%Y-%m-%d %H:%M")
    assert main(["--lang", "en", "risk", "hazards", "list", "--data", data]) == 0
    assert local in capsys.readouterr().out


def test_progress_is_quiet_when_not_on_a_terminal_and_shown_on_one():
    from api.commands._tables import progress

    quiet = io.StringIO()
    assert list(progress(range(5), total=5, description="x", stream=quiet)) == list(range(5))
    assert quiet.getvalue() == ""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    assert list(progress(range(5), total=5, description="importing", stream=tty)) == list(range(5))
    assert "importing" in tty.getvalue() and "5/5" in tty.getvalue()


def test_camera_coverage_draws_a_picture_with_chinese_text(data, capsys, tmp_path):
    import cv2
    import numpy as np

    from geo.riskmap import _PANEL_W
    from tests.glyphs import assert_distinct_glyphs, ink

    out = tmp_path / "cov.png"
    capsys.readouterr()
    assert (
        main(["camera", "coverage", "--campus", "hki", "--png", str(out), "--json", "--data", data])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["png"] == str(out)
    img = cv2.imdecode(np.frombuffer(out.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert img.shape[1] == 1200
    x0 = 1200 - _PANEL_W + 16
    title = img[34 - 22 : 34 + 6, x0 : x0 + 5 * 19 + 10]  # 摄像头覆盖, baseline 34, 19 px
    assert_distinct_glyphs(ink(title, True), "摄像头覆盖")
