"""Chinese first, English too: the one message catalogue (layers/i18n/), the pages' language from
the user's choice or ``Accept-Language``, and each campus's time zone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "layers" / "i18n" / "locales" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
_PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)s")


def _marked() -> set[str]:
    """Every msgid marked in the sources, by Babel's own extractors (babel.cfg)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
    return {
        msg if isinstance(msg, str) else msg[0]
        for _, _, msg, _, _ in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords
        )
    }


def _po():
    from babel.messages.pofile import read_po

    with open(PO, "rb") as f:
        return read_po(f, locale="zh_CN")


def test_every_marked_text_has_a_chinese_translation_with_the_same_placeholders():
    cat = _po()
    marked = _marked()
    assert len(marked) > 200  # the pages, their scripts, the CLI and pictures
    missing = sorted(m for m in marked if not (cat.get(m) and cat.get(m).string))
    assert not missing, f"untranslated (run `make i18n` and translate): {missing[:10]}"
    for m in marked:
        zh = cat.get(m).string
        assert sorted(_PLACEHOLDER.findall(m)) == sorted(_PLACEHOLDER.findall(zh)), (m, zh)
        assert re.search(r"[\u4e00-\u9fff]", zh) or not re.search(r"[a-z]{3}", m), (m, zh)


def test_the_shipped_compiled_catalogue_is_the_po_file_compiled():
    from babel.support import Translations

    from layers.i18n import CATALOGUE_DIR

    shipped = Translations.load(str(CATALOGUE_DIR), ["zh_Hans_CN"], "messages")
    cat = _po()
    want = {m.id: m.string for m in cat if m.id and m.string}
    got = {k: v for k, v in shipped._catalog.items() if k}
    assert got == want, "messages.mo is stale: run `make i18n`"


def test_a_chinese_text_reaches_the_caller_with_its_placeholders_filled():
    from layers.i18n import gettext

    assert gettext("Planner", "zh_CN") == "规划"
    assert gettext("Planner", "en") == "Planner"


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("zh", "zh_CN"),
        ("en-US,en;q=0.9", "en"),
        ("en;q=0.4, zh-Hans-CN;q=0.8", "zh_CN"),
        ("zh-TW, en;q=0.5", "en"),  # traditional Chinese is not offered; English is
        ("fr-FR, de;q=0.5", "zh_CN"),  # nothing offered: Chinese, for xiaoan's people
        ("", "zh_CN"),
        (None, "zh_CN"),
        ("en;q=0, zh;q=garbage", "zh_CN"),
    ],
)
def test_accept_language_picks_the_best_offered_language(header, want):
    from layers.i18n import negotiate

    assert negotiate(header) == want


def test_cli_language_from_flag_then_environment(monkeypatch):
    from layers.i18n import cli_locale

    monkeypatch.delenv("XIAOAN_LANG", raising=False)
    assert cli_locale() == "zh_CN"
    monkeypatch.setenv("XIAOAN_LANG", "en")
    assert cli_locale() == "en"
    assert cli_locale("zh-CN") == "zh_CN"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from api.app import create_app
    from ingest.files.demo import build_demo
    from layers.store import open_store

    d = tmp_path_factory.mktemp("i18n")
    store = open_store(None, str(d))
    build_demo(store, campus_id="hki")
    app = create_app({"DATA_DIR": str(d)}, store=store)
    yield app.test_client()
    store.close()


@pytest.mark.parametrize("path", ["/map/", "/map/coordinator", "/map/crew", "/map/dispatch"])
def test_pages_are_chinese_for_a_chinese_browser_and_english_for_an_english_one(client, path):
    client.delete_cookie("xiaoan_lang")
    zh = client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    zh_html = zh.split('<script type="application/json" id="xa-i18n">')[0]  # the markup
    assert '<html lang="zh-CN">' in zh
    for word in ("规划", "指挥调度", "管线抢修", "校车调度", "图例", "搜索建筑"):
        assert word in zh_html
    assert "Planner" not in zh_html
    en = client.get(path, headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en">' in en
    for word in ("Planner", "Coordinator", "Pipe crew", "Bus dispatch", "egend", "Search building"):
        assert word in en
    assert "规划" not in en
    # the scripts get the same catalogue
    assert '"Evacuate": "疏散"' in zh and '"messages": {}' in en


def test_a_chosen_language_is_kept_over_the_browsers(client):
    r = client.get("/map/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in r.get_data(as_text=True)
    assert "xiaoan_lang=en" in r.headers.get("Set-Cookie", "")
    again = client.get("/map/crew", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<html lang="en">' in again
    back = client.get("/map/crew?lang=zh-CN").get_data(as_text=True)
    assert '<html lang="zh-CN">' in back
    client.delete_cookie("xiaoan_lang")


def test_the_page_carries_the_campus_time_zone_and_a_cjk_font_stack(client):
    html = client.get("/map/coordinator").get_data(as_text=True)
    assert 'data-tz="Europe/Helsinki"' in html  # the demo campus is in Helsinki
    css = client.get("/map/static/xiaoan.css").get_data(as_text=True)
    assert '"Noto Sans CJK SC"' in css and '"Microsoft YaHei"' in css and '"PingFang SC"' in css


def _info(props=None, lon=116.39, lat=39.91):
    from shapely.geometry import Point

    from layers.campus import CampusInfo

    return CampusInfo(id="c1", name="c", boundary=Point(lon, lat).buffer(0.001), props=props or {})


def test_a_campus_in_china_is_on_shanghai_time_unless_its_props_say_otherwise():
    assert _info().time_zone() == "Asia/Shanghai"
    assert _info(lon=87.6, lat=43.8).time_zone() == "Asia/Urumqi"  # tzdb's zone for Xinjiang
    assert _info({"time_zone": "Asia/Shanghai"}, lon=87.6, lat=43.8).time_zone() == "Asia/Shanghai"
    assert _info(lon=24.95, lat=60.17).to_dict()["time_zone"] == "Europe/Helsinki"


def test_an_unknown_time_zone_in_the_props_is_refused_naming_the_field():
    from geo.errors import ValidationError

    with pytest.raises(ValidationError, match="props.time_zone"):
        _info({"time_zone": "Mars/Olympus"}).time_zone()


def test_the_landing_page_answers_html_to_a_browser_and_json_otherwise(client):
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "zh-CN"}
    r = client.get("/", headers=browser)
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "网络地图" in html and 'href="/map/"' in html
    r = client.get("/?f=html", headers={"Accept-Language": "en"})
    assert r.mimetype == "text/html" and '<html lang="en">' in r.get_data(as_text=True)
    assert client.get("/").mimetype == "application/json"  # a program's */*
    assert client.get("/", headers={"Accept": "application/json"}).get_json()["links"]
    assert client.get("/?f=json", headers=browser).mimetype == "application/json"
    assert client.get("/?f=xml").status_code == 400
