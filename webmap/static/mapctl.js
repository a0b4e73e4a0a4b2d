/* Map controls shared by the four pages: zoom, reset view, 2D/3D, north arrow, scale bar,
   search (building, room, camera, pipe) and click-to-identify with a side panel. */
"use strict";
(function () {
  const _ = XA._;
  const $ = (id) => document.getElementById(id);
  const HIDE = new Set(["polygon", "path", "position", "color", "fill", "line", "label_position",
    "named", "seq", "elevation", "timestamps"]);
  const KEYS = { fid: _("source id"), name: _("name"), use: _("use"), floors: _("floors"),
    height_m: _("height (m)"), base_z: _("base (m)"), floor_height_m: _("floor height (m)"),
    building: _("building"), floor: _("floor"), utility: _("utility"), diameter_m: _("diameter (m)"),
    depth_m: _("crown depth (m)"), material: _("material"), kind: _("kind"), status: _("status"),
    heading_deg: _("heading (°)"), hfov_deg: _("field of view (°)"), range_m: _("range (m)"),
    route_id: _("route"), stop_id: _("stop"), level: _("risk level"), area_m2: _("area (m²)"),
    category: _("category"), description: _("description"), camera: _("camera") };
  const KIND = { buildings: _("building"), labels: _("building"), rooms: _("room"), pipes: _("pipe"),
    valves: _("valve"), cameras: _("camera"), ground: _("road or zone"), routes: _("bus route or stop"),
    risk: _("risk (floor)"), riskAreas: _("risk area or point"), blind: _("blind spot"),
    hazards: _("hazard"), incidents: _("incident"), buses: _("bus"), suggestions: _("suggested camera"),
    linked: _("linked to the incident") };

  function titleOf(kind, o) {
    if (kind === "buildings" || kind === "labels") return XA.buildingName(o);
    if (kind === "pipes") return `${XA.utilityName(o.utility)} ${o.name && o.name !== o.fid ? o.name : ""}`.trim();
    if (o.properties) return String(o.properties.kind || o.properties.name || "");
    if (o.p) return String(o.p.name || "");
    return String(o.name || o.description || o.fid || o.bus || "");
  }

  /* the side panel of what was clicked: its name, what it is, its source id and attributes */
  XA.identify = function (layerId, o) {
    const kind = String(layerId || "").split(":")[0];
    const attrs = Object.assign({}, o && o.properties ? o.properties : {}, o && o.p ? o.p : {}, o || {});
    const rows = Object.entries(attrs).filter(([k, v]) => !HIDE.has(k) && k !== "properties" && k !== "p" &&
      v != null && v !== "" && (typeof v !== "object"));
    $("identify-title").textContent = titleOf(kind, o) || KIND[kind] || kind;
    $("identify-detail").textContent = `${KIND[kind] || kind}${attrs.fid ? " · " + _("source id") + " " + attrs.fid : ""}`;
    $("identify-facts").innerHTML = rows.map(([k, v]) => {
      const val = k === "building" ? XA.nameOfBuilding(v) : k === "utility" ? XA.utilityName(v) : v;
      return `<dt>${XA.esc(KEYS[k] || k)}</dt><dd>${XA.esc(val)}</dd>`;
    }).join("");
    $("identify").hidden = false;
    window.xiaoan.identified = { layer: kind, title: $("identify-title").textContent };
  };
  $("identify-close").onclick = () => { $("identify").hidden = true; };

  function view() { return Object.assign({}, XA.viewState || XA.deck.props.initialViewState); }
  function setView(patch) {
    const vs = Object.assign(view(), patch);
    XA.viewState = vs;
    XA.deck.setProps({ initialViewState: vs });
    update(vs);
  }

  /* scale bar: a round length that fits in ~110 px at the centre of the view */
  function update(vs) {
    vs = vs || view();
    const mpp = 40075016.686 * Math.cos((vs.latitude * Math.PI) / 180) / (512 * Math.pow(2, vs.zoom));
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
    const m = steps.filter((x) => x / mpp <= 110).pop() || 1;
    $("scale-bar").style.width = `${Math.round(m / mpp)}px`;
    $("scale-text").textContent = m >= 1000 ? `${m / 1000} km` : `${m} m`;
    $("north-arrow").style.transform = `rotate(${-(vs.bearing || 0)}deg)`;
    $("view-2d3d").textContent = (vs.pitch || 0) > 1 ? "2D" : "3D";
    window.xiaoan.view = { zoom: vs.zoom, pitch: vs.pitch || 0, bearing: vs.bearing || 0, scale_m: m };
  }
  XA.viewHooks.push(update);

  /* what search finds: buildings, rooms, cameras and pipes by name or source id */
  function candidates() {
    const s = XA.scene, out = [];
    const mid = (pts) => [pts.reduce((a, p) => a + p[0], 0) / pts.length, pts.reduce((a, p) => a + p[1], 0) / pts.length];
    for (const b of s.buildings) if (b.label_position) out.push({ label: XA.buildingName(b), id: b.fid, layer: "buildings", o: b, at: b.label_position });
    for (const r of s.rooms) out.push({ label: `${r.name} · ${XA.nameOfBuilding(r.building)}`, id: r.fid, layer: "rooms", o: r, at: mid(r.polygon[0] || r.polygon) });
    for (const c of s.cameras) out.push({ label: `${_("camera")} ${c.name || c.fid}`, id: c.fid, layer: "cameras", o: c, at: c.position });
    for (const p of s.pipes) out.push({ label: `${XA.utilityName(p.utility)} ${p.name || p.fid}`, id: p.fid, layer: "pipes", o: p, at: p.path[Math.floor(p.path.length / 2)] });
    return out;
  }
  XA.search = function (q) {
    q = String(q || "").trim().toLowerCase();
    if (!q) return null;
    const all = (XA._candidates = XA._candidates || candidates());
    const hit = all.find((c) => c.label.toLowerCase() === q || String(c.id).toLowerCase() === q) ||
      all.find((c) => c.label.toLowerCase().includes(q) || String(c.id).toLowerCase().includes(q));
    if (!hit) { XA.status(_("nothing found for “{q}”", { q: q })); return null; }
    XA.status("");
    XA.fly(hit.at[0], hit.at[1], 18.6);
    XA.identify(hit.layer, hit.o);
    return hit;
  };

  XA.readyHooks.push(() => {
    const home = Object.assign({}, XA.deck.props.initialViewState);
    $("zoom-in").onclick = () => setView({ zoom: Math.min(view().zoom + 1, home.maxZoom || 22) });
    $("zoom-out").onclick = () => setView({ zoom: Math.max(view().zoom - 1, home.minZoom || 0) });
    $("reset-view").onclick = () => setView(home);
    $("north").onclick = () => setView({ bearing: 0 });
    $("view-2d3d").onclick = () => setView(view().pitch > 1 ? { pitch: 0, bearing: 0 } : { pitch: home.pitch || 45 });
    const list = $("search-list");
    list.innerHTML = candidates().slice(0, 2000).map((c) => `<option value="${XA.esc(c.label)}">`).join("");
    $("search").onsubmit = (e) => { e.preventDefault(); XA.search($("search-q").value); };
    $("search-q").onchange = () => XA.search($("search-q").value);
    update(home);
  });
})();
