"""The work order of :func:`scenes.workorder.work_order` as a printable A4 PDF (fpdf2).

Page 1: header and the map (pipes by utility, the isolated and cut-off pipes, the valves to
close numbered in closing order, stuck valves crossed, the dig, buildings out of service
shaded), drawn as vectors. Page 2: the valves in order, the cross-section across the broken
pipe (PNG from :func:`scenes.cross_section.render_cross_section`) and the clearances. Page 3: who
loses service and whom to warn. Text is Chinese first, then English, in a Noto CJK font
found on the system (:func:`layers.i18n.fonts.cjk_font_face`, ``fonts-noto-cjk``); none found is
an error that says what to install.
"""

from __future__ import annotations

import io
from typing import Any

import shapely
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from layers.campus import Campus
from layers.i18n.fonts import cjk_font_face
from scenes.cross_section import render_cross_section

__all__ = ["render_work_order_pdf", "MAP_BOX_MM"]

MAP_BOX_MM = (12.0, 38.0, 186.0, 186.0)  # x, y, width, height of the map on page 1
_RGB = {
    "water": (0, 120, 255),
    "gas": (230, 190, 0),
    "power": (230, 0, 0),
    "telecom": (255, 140, 0),
    "sewer": (0, 160, 0),
    "drain": (0, 160, 120),
    "heat": (180, 0, 180),
}


class _Doc(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        path, index = cjk_font_face()
        self.add_font("cjk", fname=path, collection_font_number=index)
        self.set_font("cjk", size=10)
        self.set_auto_page_break(True, margin=12)
        self.set_margins(12, 12, 12)
        self._title = title

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("cjk", size=7)
        self.cell(0, 5, f"{self._title} · {self.page_no()}", align="R")

    def heading(self, text: str) -> None:
        self.set_font("cjk", size=13)
        self.cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("cjk", size=9)

    def line_text(self, text: str, size: float = 9) -> None:
        self.set_font("cjk", size=size)
        self.multi_cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def rows(
        self, header: tuple[str, ...], rows: list[tuple[Any, ...]], widths: tuple[int, ...]
    ) -> None:
        self.set_font("cjk", size=8)
        self.set_fill_color(255, 255, 255)
        head = FontFace(emphasis="", fill_color=(225, 225, 225))  # one face: no bold
        with self.table(
            col_widths=widths, line_height=5, first_row_as_headings=True, headings_style=head
        ) as t:
            for r in [header, *rows]:
                row = t.row()
                for c in r:
                    row.cell("" if c is None else str(c))
        self.ln(2)


def _draw_map(pdf: _Doc, campus: Campus, order: dict[str, Any]) -> None:
    x0, y0, w, h = MAP_BOX_MM
    pipes = campus.local("pipes")
    dig = campus.to_local(shapely.geometry.shape(order["dig"]["geometry"]))
    focus = [dig] + [
        pipes.loc[f].geometry
        for f in order["isolated_links"] + order["cut_off_links"]
        if f in pipes.index
    ]
    valves = [
        (v, shapely.Point(campus.xy_to_local(v["lon"], v["lat"]))) for v in order["valves_in_order"]
    ]
    focus += [p for _, p in valves]
    minx, miny, maxx, maxy = shapely.union_all([shapely.force_2d(g) for g in focus]).bounds
    pad = 15.0
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    scale = min(w / (maxx - minx), h / (maxy - miny))  # mm per m
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2

    def pt(x: float, y: float) -> tuple[float, float]:
        return x0 + w / 2 + (x - cx) * scale, y0 + h / 2 - (y - cy) * scale

    def rings(g: Any) -> list[list[tuple[float, float]]]:
        polys = shapely.get_parts(shapely.force_2d(g))
        return [[pt(x, y) for x, y in p.exterior.coords] for p in polys if p.geom_type == "Polygon"]

    def lines(g: Any) -> list[list[tuple[float, float]]]:
        return [[pt(x, y) for x, y in p.coords] for p in shapely.get_parts(shapely.force_2d(g))]

    view = shapely.box(minx, miny, maxx, maxy)
    out_b = {b["fid"] for b in order["buildings"]}
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.3)
    pdf.rect(x0, y0, w, h)
    with pdf.rect_clip(x0, y0, w, h):
        b = campus.local("buildings")
        for fid, g in zip(b["fid"], b.geometry, strict=True):
            if g is None or not g.intersects(view):
                continue
            hit = fid in out_b
            pdf.set_fill_color(*((255, 200, 200) if hit else (235, 235, 235)))
            pdf.set_draw_color(*((200, 0, 0) if hit else (150, 150, 150)))
            pdf.set_line_width(0.2)
            for r in rings(g):
                pdf.polygon(r, style="DF")
        role = {f: (255, 0, 255) for f in order["isolated_links"]}
        role.update({f: (255, 150, 230) for f in order["cut_off_links"]})
        for fid, u, g in zip(pipes["fid"], pipes["utility"], pipes.geometry, strict=True):
            if g is None or not g.intersects(view):
                continue
            pdf.set_draw_color(*role.get(fid, _RGB.get(u, (90, 90, 90))))
            pdf.set_line_width(1.2 if fid in role else 0.4)
            for p in lines(g):
                pdf.polyline(p)
        pdf.set_fill_color(120, 170, 255)
        pdf.set_draw_color(0, 60, 200)
        pdf.set_line_width(0.5)
        for r in rings(dig):
            pdf.polygon(r, style="DF")
        pdf.set_font("cjk", size=7)
        for v, p in valves:
            x, y = pt(p.x, p.y)
            pdf.set_fill_color(*((255, 80, 0) if v["side"] == "feed" else (255, 220, 0)))
            pdf.set_draw_color(0, 0, 0)
            pdf.set_line_width(0.3)
            pdf.circle(x, y, 2.6, style="DF")
            pdf.set_xy(x - 2.6, y - 2.0)
            pdf.cell(5.2, 4, str(v["step"]), align="C")
        pdf.set_draw_color(200, 0, 0)
        pdf.set_line_width(0.6)
        for s in order["stuck_valves"]:
            xy = _valve_xy(campus, order, s)
            if xy is not None:
                x, y = pt(*xy)
                pdf.line(x - 2.5, y - 2.5, x + 2.5, y + 2.5)
                pdf.line(x - 2.5, y + 2.5, x + 2.5, y - 2.5)
    # scale bar: a round length near a fifth of the map width
    metres = max(1, min((1, 2, 5, 10, 20, 50, 100, 200, 500), key=lambda m: abs(m * scale - w / 5)))
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.6)
    pdf.line(x0 + 4, y0 + h - 5, x0 + 4 + metres * scale, y0 + h - 5)
    pdf.set_font("cjk", size=7)
    pdf.set_xy(x0 + 4, y0 + h - 10)
    pdf.cell(30, 4, f"{metres} m   ↑ 北 N")


def _valve_xy(campus: Campus, order: dict[str, Any], v: dict[str, Any]) -> Any:
    nodes = campus.local("pipe_nodes")
    if v["id"] in nodes.index:
        g = nodes.loc[v["id"]].geometry
        return g.x, g.y
    return None


def render_work_order_pdf(campus: Campus, order: dict[str, Any]) -> bytes:
    """The work order as PDF bytes (A4, three pages)."""
    title = f"施工作业单 Work order · {order['campus']} · {order['break']}"
    pdf = _Doc(title)
    pdf.add_page()
    pdf.heading(f"施工作业单 Work order — 爆管 break {order['break']} ({order['utility']})")
    pdf.line_text(
        f"校区 campus {order['campus']} · 开挖深度 dig depth "
        f"{order['dig']['max_depth_m']:.2f} m · {order['created']}"
    )
    pdf.line_text(f"水源 {order['sources_statement']}")
    _draw_map(pdf, campus, order)
    pdf.set_xy(12, MAP_BOX_MM[1] + MAP_BOX_MM[3] + 2)
    pdf.line_text(
        "图例 legend: 紫 isolated pipes 隔离管段 · 粉 cut off 断水管段 · 蓝 dig 开挖区 · "
        "橙/黄圆 valves to close 关闭阀门 (橙 feed side 进水侧 first) · 红叉 stuck 卡死 · "
        "红色建筑 buildings out of service 停水建筑",
        size=8,
    )

    pdf.add_page()
    pdf.heading("关闭阀门顺序 Valves to close, in order")
    side = {"feed": "进水侧 feed", "downstream": "下游 downstream"}
    pdf.rows(
        ("#", "阀门 valve", "管 pipe", "节点 node", "侧 side", "步行 walk m"),
        [
            (v["step"], v["id"], v["link"], v["node"], side[v["side"]], v["walk_m"])
            for v in order["valves_in_order"]
        ],
        (8, 40, 40, 40, 32, 22),
    )
    for key, label in (
        ("stuck_valves", "卡死/缺失阀门 stuck or missing (gone around)"),
        ("inoperable_valves", "不可操作阀门 inoperable (gone around)"),
    ):
        if order[key]:
            pdf.line_text(f"{label}: " + ", ".join(v["id"] for v in order[key]))
    pdf.heading("横断面 Cross-section")
    png = render_cross_section(order["section"], width=1100, height=550)
    pdf.image(io.BytesIO(png), x=12, w=186, h=93)
    pdf.ln(2)
    pdf.heading("开挖净距 Clearances")
    rows = [
        (
            h["id"],
            h["utility"],
            h["diameter_m"],
            "命中 HIT",
            f"{h['hit_length_m']:.2f} m",
            h["clearance_m"],
        )
        for h in order["hits"]
    ]
    rows += [
        (
            x["id"],
            x["utility"],
            x["diameter_m"],
            "警告 warning",
            f"gap {x['gap_m']:.2f} m",
            x["clearance_m"],
        )
        for x in order["warnings"]
    ]
    pdf.rows(
        ("管 pipe", "类别 utility", "管径 d m", "结果 result", "长度/间隙", "净距 clearance m"),
        rows or [("—", "", "", "无 none", "", "")],
        (44, 24, 22, 28, 34, 30),
    )

    pdf.add_page()
    sv = order["service"]
    pdf.heading("需通知的建筑与人员 Buildings and people to warn")
    pdf.line_text(
        f"停水建筑 buildings out of service: {sv['buildings']} · 消火栓 hydrants: "
        f"{len(sv['hydrants'])} · 用户 customers: "
        + (str(sv["customers"]) if sv["customers"] is not None else sv["customers_note"])
    )
    pdf.rows(
        ("建筑 building", "名称 name", "用途 use"),
        [(b["fid"], b["name"], b["use"] or "unknown") for b in order["buildings"]]
        or [("—", "", "")],
        (50, 86, 50),
    )
    if sv["hydrants"]:
        pdf.line_text("消火栓 hydrants: " + ", ".join(sv["hydrants"]))
    pdf.rows(
        ("通知 who", "事由 why", "对象 for"),
        [(p["who"], p["why"], p["for"]) for p in order["people"]] or [("—", "", "")],
        (60, 70, 56),
    )
    return bytes(pdf.output())
