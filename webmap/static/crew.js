/* Pipe crew: draw a dig, set its depth, see the pipes it hits and the cross-section;
   click a pipe to see how to isolate a burst on it. */
"use strict";
(function () {
  const L = deck;
  const C = encodeURIComponent(XA.campus);
  const _ = XA._;
  const bold = (t) => `<b>${XA.esc(t)}</b>`;
  const pipeName = (id) => {
    const p = XA.scene.pipes.find((x) => x.fid === id);
    return p ? `${XA.utilityName(p.utility)} ${p.name && p.name !== p.fid ? p.name : ""}`.trim() : id;
  };
  const crew = (window.xiaoan.crew = { points: [], drawing: false, result: null, isolation: null });

  function showPoints() {
    document.getElementById("dig-points").textContent = crew.points.length
      ? _("{n} corner(s) drawn", { n: crew.points.length }) : "";
    XA.render();
  }

  crew.addPoint = function (lon, lat) { crew.points.push([lon, lat]); showPoints(); };
  crew.clear = function () {
    crew.points = []; crew.result = null; crew.section = null;
    document.getElementById("hits").innerHTML = "";
    document.getElementById("section").hidden = true;
    document.getElementById("section-close").hidden = true;
    showPoints();
  };
  crew.setDepth = function (m) { document.getElementById("depth").value = m; };

  /* local metres around (lon0, lat0): plenty for a dig a few tens of metres across */
  function toXY(p, o) {
    return [(p[0] - o[0]) * 111320 * Math.cos(o[1] * Math.PI / 180), (p[1] - o[1]) * 111320];
  }
  function toLL(q, o) {
    return [o[0] + q[0] / (111320 * Math.cos(o[1] * Math.PI / 180)), o[1] + q[1] / 111320];
  }

  /* a section across the dig: perpendicular to the first pipe hit (near the dig's centre),
     else across the dig's narrower side; reaching 3 m beyond the dig each way */
  crew.sectionLine = function (ring, hits) {
    const pts = ring.slice(0, -1);
    const o = [pts.reduce((s, p) => s + p[0], 0) / pts.length, pts.reduce((s, p) => s + p[1], 0) / pts.length];
    const xy = pts.map((p) => toXY(p, o));
    let dir = null;
    const pipe = hits.length && XA.scene.pipes.find((p) => p.fid === hits[0].id);
    if (pipe) {
      let best = Infinity;
      const path = pipe.path.map((p) => toXY(p, o));
      for (let i = 1; i < path.length; i++) {
        const [ax, ay] = path[i - 1], [bx, by] = path[i];
        const dx = bx - ax, dy = by - ay, L2 = dx * dx + dy * dy || 1;
        const f = Math.max(0, Math.min(1, -(ax * dx + ay * dy) / L2));
        const d = Math.hypot(ax + f * dx, ay + f * dy);
        if (d < best) { best = d; dir = [-dy, dx]; }
      }
    }
    if (!dir) {
      const w = Math.max(...xy.map((q) => q[0])) - Math.min(...xy.map((q) => q[0]));
      const h = Math.max(...xy.map((q) => q[1])) - Math.min(...xy.map((q) => q[1]));
      dir = w <= h ? [1, 0] : [0, 1];
    }
    const n = Math.hypot(dir[0], dir[1]) || 1;
    const u = [dir[0] / n, dir[1] / n];
    const s = xy.map((q) => q[0] * u[0] + q[1] * u[1]);
    const lo = Math.min(...s) - 3, hi = Math.max(...s) + 3;
    return [toLL([lo * u[0], lo * u[1]], o), toLL([hi * u[0], hi * u[1]], o)];
  };

  crew.dig = async function () {
    if (crew.points.length < 3) { XA.status(_("draw at least three corners")); return null; }
    const depth = parseFloat(document.getElementById("depth").value);
    const ring = crew.points.concat([crew.points[0]]);
    const dig = { type: "Polygon", coordinates: [ring] };
    XA.status(_("checking the dig…"));
    const r = await XA.api(`/api/v1/pipes/${C}/excavate`, { json: { dig: dig, depth: depth } });
    crew.result = r;
    const ul = document.getElementById("hits");
    ul.innerHTML = "";
    if (!r.hits.length && !r.warnings.length) ul.innerHTML = `<li>${_("no pipe hit or within clearance")}</li>`;
    r.hits.forEach((h) => {
      ul.insertAdjacentHTML("beforeend", `<li class="hit" data-pipe="${XA.esc(h.id)}">${_("HIT")} <b>${XA.esc(pipeName(h.id))}</b> ` +
        `${_("Ø {d} m, {l} m of pipe in the dig", { d: h.diameter_m, l: h.hit_length_m.toFixed(2) })} <span class="hint">${XA.esc(h.id)}</span></li>`);
    });
    r.warnings.forEach((w) => {
      ul.insertAdjacentHTML("beforeend", `<li class="warn" data-pipe="${XA.esc(w.id)}">${_("near")} <b>${XA.esc(pipeName(w.id))}</b>: ${XA.esc(w.reason || "")} <span class="hint">${XA.esc(w.id)}</span></li>`);
    });
    // the cross-section PNG from the pipes API
    crew.section = crew.sectionLine(ring, r.hits);
    const png = await fetch(`/api/v1/pipes/${C}/section?format=png`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ section: { type: "LineString", coordinates: crew.section }, dig: dig, depth: depth }),
    });
    if (!png.ok) throw new Error(_("cross-section failed: HTTP {s}", { s: png.status }));
    const blob = await png.blob();
    crew.sectionBytes = blob.size;
    const img = document.getElementById("section");
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
    img.hidden = false;
    document.getElementById("section-close").hidden = false;
    XA.status("");
    XA.render();
    return r;
  };

  crew.isolate = async function (pipe) {
    XA.status(_("isolating…"));
    const r = await XA.api(`/api/v1/pipes/${C}/isolate?pipe=${encodeURIComponent(pipe)}`);
    crew.isolation = r;
    const v = (r.close_valves || []).map((x) => {
      const id = x.id || x.valve || JSON.stringify(x);
      return `<li>${XA.esc(x.name && x.name !== id ? x.name : _("valve {id}", { id: id }))}</li>`;
    }).join("");
    const out = r.buildings_out_of_service || [];
    const names = out.map((b) => XA.esc(XA.nameOfBuilding(b.id || b)));
    document.getElementById("isolation").innerHTML =
      `<p>${_("Break on {p}", { p: bold(pipeName(pipe)) })} <span class="hint">${XA.esc(pipe)}</span></p>` +
      `<p>${_("Close {n} valve(s):", { n: (r.close_valves || []).length })}</p><ul>${v}</ul>` +
      `<p>${_("{i} pipe(s) isolated, {c} cut off", { i: (r.isolated_links || []).length, c: (r.cut_off_links || []).length })}</p>` +
      `<p>${_("Buildings out of service ({n}):", { n: out.length })} ${names.slice(0, 8).join("、") || _("none")}` +
      `${names.length > 8 ? " " + _("and {n} more", { n: names.length - 8 }) : ""}</p>`;
    XA.status("");
    XA.render();
    return r;
  };

  function isoFeatures(role) {
    const g = crew.isolation && crew.isolation.geojson;
    return g ? g.features.filter((f) => role.includes(f.properties.role)) : [];
  }

  XA.start(["ground", "buildings", "labels", "pipes", "valves"], async () => {
    XA.registry.buildings.build = ((orig) => () => orig().clone({ getFillColor: [176, 190, 205, 28], getLineColor: [90, 100, 115, 120] }))(XA.registry.buildings.build);
    XA.add("isolation", _("Isolation"), () => [
      new L.GeoJsonLayer({ id: "isolation:pipes", data: isoFeatures(["isolated", "cut_off"]),
        getLineColor: (f) => f.properties.role === "isolated" ? [255, 0, 255, 255] : [255, 120, 255, 160],
        getLineWidth: 6, lineWidthUnits: "pixels", parameters: { depthTest: false } }),
      new L.GeoJsonLayer({ id: "isolation:valves", data: isoFeatures(["close", "already_closed"]),
        pointType: "circle", getFillColor: (f) => f.properties.role === "close" ? [255, 0, 255, 255] : [60, 60, 60, 255],
        getLineColor: [255, 255, 255, 255], getPointRadius: 8, pointRadiusUnits: "pixels", lineWidthMinPixels: 2,
        stroked: true, parameters: { depthTest: false } }),
    ], { legend: [["#ff00ff", _("isolated pipe, valve to close")], ["#ff78ff", _("cut off")], ["#3c3c3c", _("valve already closed")]] });
    XA.add("dig", _("Dig"), () => {
      const depth = parseFloat(document.getElementById("depth").value) || 1;
      const out = [
        new L.ScatterplotLayer({ id: "dig:corners", data: crew.points, getPosition: (p) => [p[0], p[1], 0.1],
          getFillColor: [255, 255, 255, 255], radiusMinPixels: 4, getRadius: 0.3 }),
      ];
      if (crew.points.length >= 2) {
        out.push(new L.PathLayer({ id: "dig:outline", data: [crew.points.concat(crew.points.length >= 3 ? [crew.points[0]] : [])],
          getPath: (p) => p.map((q) => [q[0], q[1], 0.1]), getColor: [255, 255, 255, 255], getWidth: 2, widthUnits: "pixels" }));
      }
      if (crew.points.length >= 3) {
        out.push(new L.PolygonLayer({ id: "dig:pit", data: [crew.points],
          getPolygon: (p) => p.map((q) => [q[0], q[1], -depth]), extruded: true, getElevation: depth,
          getFillColor: [255, 255, 255, 70], getLineColor: [255, 255, 255, 255], wireframe: true }));
      }
      if (crew.section) {
        out.push(new L.PathLayer({ id: "dig:section", data: [crew.section], getPath: (p) => p.map((q) => [q[0], q[1], 0.15]),
          getColor: [255, 255, 255, 200], getWidth: 1, widthUnits: "pixels", getDashArray: [4, 3] }));
      }
      if (crew.result) {
        const stretches = crew.result.hits.flatMap((h) => (h.points || []).map((ab) => ({ path: ab, id: h.id })));
        out.push(new L.PathLayer({ id: "dig:hits", data: stretches, getPath: (d) => d.path,
          getColor: [255, 0, 0, 255], getWidth: 8, widthUnits: "pixels", parameters: { depthTest: false } }));
      }
      return out;
    }, { noToggle: true });
    XA.clickHooks.push((info) => {
      if (crew.drawing && info.coordinate) { crew.addPoint(info.coordinate[0], info.coordinate[1]); return true; }
      // pipes lie under the ground and the buildings: pick among the pipes alone
      const hit = info.layer && info.layer.id === "pipes" ? info
        : XA.deck.pickObject({ x: info.x, y: info.y, radius: 6, layerIds: ["pipes"] });
      if (hit && hit.object) {
        XA.identify("pipes", hit.object);
        crew.isolate(hit.object.fid).catch((e) => XA.status(String(e)));
        return true;
      }
      return false;
    });
    const drawBtn = document.getElementById("draw");
    drawBtn.onclick = () => {
      crew.drawing = !crew.drawing;
      drawBtn.classList.toggle("on", crew.drawing);
      drawBtn.textContent = crew.drawing ? _("Drawing… (click to stop)") : _("Draw");
    };
    document.getElementById("clear").onclick = () => crew.clear();
    document.getElementById("section-close").onclick = () => {
      document.getElementById("section").hidden = true;
      document.getElementById("section-close").hidden = true;
    };
    document.getElementById("run-dig").onclick = () => crew.dig().catch((e) => XA.status(String(e)));
    document.getElementById("depth").onchange = () => XA.render();
    document.getElementById("utility-legend").innerHTML = Object.entries(XA.scene.utility_colours)
      .map(([u, c]) => `<span><i style="background:${c}"></i>${XA.esc(XA.utilityName(u))}</span>`).join("");
    // start looking along the street from a steeper angle: pipes lie under the roads
    XA.deck.setProps({ initialViewState: Object.assign({}, XA.deck.props.initialViewState, { pitch: 60 }) });
  }).catch((e) => XA.status(String(e)));
})();
