/* Planner: 3D campus, four-colour risk map, camera coverage and blind spots, placement
   suggestions, hazard ledger. */
"use strict";
(function () {
  const L = deck;
  const C = encodeURIComponent(XA.campus);
  const _ = XA._;
  const LEVEL_NAME = { red: _("red (major)"), orange: _("orange (large)"), yellow: _("yellow (general)"), blue: _("blue (low)") };
  const LEVEL = { red: "#FF0000", orange: "#FF8000", yellow: "#FFFF00", blue: "#0000FF" };
  const data = { riskFloors: [], riskAreas: [], riskPoints: [], visible: [], blind: [],
    frustums: [], suggestions: [], hazards: [] };
  window.xiaoan.planner = data;

  function ringsOf(geom) {
    if (!geom) return [];
    if (geom.type === "Polygon") return [geom.coordinates];
    if (geom.type === "MultiPolygon") return geom.coordinates;
    return [];
  }

  async function loadCameras() {
    const [vis, blind, fr, cov] = await Promise.all([
      XA.api(`/api/v1/cameras/${C}/layers/visible`),
      XA.api(`/api/v1/cameras/${C}/layers/blind_spots`),
      XA.api(`/api/v1/cameras/${C}/layers/frustums`),
      XA.api(`/api/v1/cameras/${C}/coverage`),
    ]);
    data.visible = vis.features.flatMap((f) => ringsOf(f.geometry).map((r) => ({ polygon: r, p: f.properties })));
    data.blind = blind.features.flatMap((f) => ringsOf(f.geometry).map((r) => ({ polygon: r, p: f.properties })));
    data.frustums = fr.features.flatMap((f) => ringsOf(f.geometry).flatMap((poly) => poly.map((ring) => ({ path: ring, camera: f.properties.camera }))));
    // the share is of the open ground (the campus less its buildings), seen by all cameras
    // together; how many cameras see any of it is a separate count
    data.coverage = cov;
    const nb = `<b>${cov.blind_spots}</b>`;
    document.getElementById("coverage").innerHTML =
      `<p><b>${XA.number(cov.covered_pct, 2)} %</b> ${_("of the open ground (outside buildings) is seen by at least one camera")}` +
      ` <span class="hint">(${XA.number(cov.covered_area_m2)} / ${XA.number(cov.ground_area_m2)} m²)</span></p>` +
      `<p>${_("{k} of the {n} cameras see some open ground; the others look at walls or roofs only.", { k: cov.cameras_covering, n: cov.cameras })}</p>` +
      `<p>${_("{b} blind spots (1 m² or more), {a} m² in all", { b: nb, a: XA.number(cov.blind_spot_area_m2) })}</p>`;
  }

  async function loadRisk() {
    const [floors, map] = await Promise.all([
      XA.api(`/map/data/${C}/risk-floors`),
      XA.api(`/api/v1/risk/campuses/${C}/map`),
    ]);
    data.riskFloors = floors;
    data.riskAreas = [];
    data.riskPoints = [];
    for (const f of map.features) {
      const p = f.properties;
      const col = XA.hex(p.colour || LEVEL[p.level] || "#888888", 255);
      if (p.layer === "risk_areas") ringsOf(f.geometry).forEach((r) => data.riskAreas.push({ polygon: r, p: p, color: col }));
      if (p.layer === "risk_points") data.riskPoints.push({ position: f.geometry.coordinates.concat([0.3]), p: p, color: col });
    }
  }

  async function loadHazards() {
    const h = await XA.api(`/api/v1/risk/hazards?campus=${C}&limit=500`);
    data.hazards = h.hazards.filter((x) => x.location && x.location.lon != null);
    const ul = document.getElementById("hazards");
    ul.innerHTML = h.hazards.length ? "" : `<li>${_("no hazards reported")}</li>`;
    for (const x of h.hazards) {
      const li = document.createElement("li");
      li.dataset.hazard = x.id || "";
      li.innerHTML = `<b>${XA.esc(XA.word(x.category))}</b> <span class="desc">${XA.esc(x.description)}</span> ` +
        `<span class="hint">${XA.esc(XA.word(x.status))} · ${XA.esc(XA.time(x.reported_at || x.created_at))}</span>`;
      li.onclick = () => x.location && fly(x.location.lon, x.location.lat);
      ul.appendChild(li);
    }
  }

  function fly(lon, lat) { XA.fly(lon, lat, 18.5); }

  async function suggest() {
    const k = parseInt(document.getElementById("k").value, 10) || 5;
    XA.status(_("computing placement…"));
    const r = await XA.api(`/api/v1/cameras/${C}/placement`, { json: { k: k } });
    data.suggestions = r.chosen;
    const ol = document.getElementById("suggestions");
    ol.innerHTML = "";
    r.chosen.forEach((c) => {
      const li = document.createElement("li");
      li.textContent = _("heading {h}°, +{a} m² newly seen", { h: c.heading_deg, a: XA.number(c.gain_m2) });
      ol.appendChild(li);
    });
    ol.insertAdjacentHTML("beforeend", `<p class="hint">${_("+{p} % of the ground no camera sees yet", { p: r.covered_new_pct })}</p>`);
    XA.status("");
    XA.registry.suggestions.visible = true;
    XA.render();
  }

  function heading(c) {
    const a = (c.heading_deg * Math.PI) / 180, d = c.range_m * 0.4;
    const dlat = (d * Math.cos(a)) / 111320, dlon = (d * Math.sin(a)) / (111320 * Math.cos(c.lat * Math.PI / 180));
    return [[c.lon, c.lat, c.height_m], [c.lon + dlon, c.lat + dlat, 0.2]];
  }

  XA.start(["ground", "buildings", "labels", "floors", "rooms", "pipes", "valves", "cameras"], async () => {
    XA.registry.buildings.visible = false;
    XA.registry.floors.visible = false;
    XA.registry.pipes.visible = false;
    XA.registry.valves.visible = false;
    XA.add("risk", _("Four-colour risk (floors)"), () => new L.PolygonLayer({
      id: "risk", data: data.riskFloors, getPolygon: (d) => d.polygon, extruded: true,
      getElevation: (d) => d.elevation, getFillColor: (d) => d.fill, wireframe: true,
      getLineColor: [40, 40, 40, 255], pickable: true, autoHighlight: true,
    }), { tip: (o) => `<b>${XA.esc(o.name)}</b><br>${XA.esc(LEVEL_NAME[o.level] || _("not assessed"))}`,
      legend: Object.entries(LEVEL).map(([k, c]) => [c, LEVEL_NAME[k]]).concat([["#808080", _("not assessed")]]) });
    XA.add("riskAreas", _("Risk areas and points"), () => [
      new L.PolygonLayer({ id: "riskAreas:areas", data: data.riskAreas, getPolygon: (d) => d.polygon,
        getFillColor: (d) => d.color.slice(0, 3).concat(90), getLineColor: (d) => d.color,
        lineWidthMinPixels: 2, pickable: true }),
      new L.ScatterplotLayer({ id: "riskAreas:points", data: data.riskPoints, getPosition: (d) => d.position,
        getFillColor: (d) => d.color, getLineColor: [0, 0, 0, 255], stroked: true, getRadius: 1.5,
        radiusMinPixels: 5, lineWidthMinPixels: 1, pickable: true }),
    ], { tip: (o) => `<b>${XA.esc(o.p.name)}</b><br>${XA.esc(LEVEL_NAME[o.p.level] || o.p.level)}`,
      legend: [["#ff8000", _("area (outline) or point, in its risk colour")]] });
    XA.add("visible", _("Ground seen by cameras"), () => new L.PolygonLayer({
      id: "visible", data: data.visible, getPolygon: (d) => d.polygon,
      getFillColor: [0, 200, 120, 80], stroked: false }), { legend: [["#00c878", _("seen by at least one camera")]] });
    XA.add("blind", _("Blind spots"), () => new L.PolygonLayer({
      id: "blind", data: data.blind, getPolygon: (d) => d.polygon, getFillColor: [230, 40, 160, 90],
      getLineColor: [230, 40, 160, 255], lineWidthMinPixels: 1, pickable: true,
    }), { tip: (o) => _("blind spot, {a} m²", { a: o.p.area_m2 }), legend: [["#e628a0", _("open ground no camera sees")]] });
    XA.add("frustums", _("Camera view cones"), () => new L.PathLayer({
      id: "frustums", data: data.frustums, getPath: (d) => d.path, getColor: [0, 200, 255, 140],
      getWidth: 1, widthUnits: "pixels" }), { legend: [["#00c8ff", _("outline of what each camera can see")]] });
    XA.add("suggestions", _("Placement suggestions"), () => [
      new L.LineLayer({ id: "suggestions:aim", data: data.suggestions, getSourcePosition: (d) => heading(d)[0],
        getTargetPosition: (d) => heading(d)[1], getColor: [255, 255, 255, 255], getWidth: 3 }),
      new L.ScatterplotLayer({ id: "suggestions:mounts", data: data.suggestions,
        getPosition: (d) => [d.lon, d.lat, d.height_m], getFillColor: [255, 255, 255, 255],
        getLineColor: [0, 160, 255, 255], stroked: true, getRadius: 2, radiusMinPixels: 6,
        lineWidthMinPixels: 2, pickable: true }),
    ], { tip: (o) => _("suggested camera: heading {h}°, +{a} m²", { h: o.heading_deg, a: o.gain_m2 }),
      legend: [["#ffffff", _("suggested camera and its aim")]] });
    XA.add("hazards", _("Hazard ledger"), () => new L.ScatterplotLayer({
      id: "hazards", data: data.hazards, getPosition: (d) => [d.location.lon, d.location.lat, 1],
      getFillColor: [255, 230, 0, 255], getLineColor: [0, 0, 0, 255], stroked: true, getRadius: 2,
      radiusMinPixels: 7, lineWidthMinPixels: 2, pickable: true,
    }), { tip: (o) => `<b>${_("hazard")}</b> ${XA.esc(XA.word(o.category))}: ${XA.esc(o.description)}<br>${XA.esc(XA.word(o.status))}`,
      legend: [["#ffe600", _("reported hazard")]] });
    await Promise.all([loadRisk(), loadCameras(), loadHazards()]);
    XA.toggles(document.getElementById("toggles"));
    document.getElementById("suggest").onclick = () => suggest().catch((e) => XA.status(String(e)));
  }).catch((e) => XA.status(String(e)));
})();
