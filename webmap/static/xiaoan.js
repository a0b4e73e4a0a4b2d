/* xiaoan web map: shared code for the four pages (no network beyond this server). */
"use strict";
(function () {
  const state = (window.xiaoan = { ready: false, frames: 0, clicks: 0, layers: [], errors: [] });
  const XA = (window.XA = {
    campus: document.body.dataset.campus,
    page: document.body.dataset.page,
    state: state,
    registry: {},   // id -> {label, visible, build(), tip(obj)}
    order: [],
    clickHooks: [],
    scene: null,
    deck: null,
  });

  XA.status = function (msg) { document.getElementById("status").textContent = msg || ""; };
  window.addEventListener("error", (e) => { state.errors.push(String(e.message)); });

  XA.api = async function (url, opts) {
    const o = Object.assign({ headers: {} }, opts || {});
    if (o.json !== undefined) {
      o.method = o.method || "POST";
      o.headers["Content-Type"] = "application/json";
      o.body = JSON.stringify(o.json);
      delete o.json;
    }
    const r = await fetch(url, o);
    const ct = r.headers.get("Content-Type") || "";
    const body = ct.includes("json") ? await r.json() : await r.text();
    if (!r.ok) {
      const msg = (body && body.detail) || r.statusText;
      XA.status(msg);
      throw new Error(msg);
    }
    return body;
  };

  XA.esc = function (s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  };

  XA.hex = function (h, a) {
    h = h.replace("#", "");
    return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16),
      a === undefined ? 255 : a];
  };

  /* register a layer: build() returns a deck.gl layer (or a list of them) */
  XA.add = function (id, label, build, opts) {
    if (!XA.registry[id]) XA.order.push(id);
    XA.registry[id] = Object.assign({ label: label, build: build, visible: true }, opts || {});
  };

  XA.render = function () {
    if (!XA.deck) return;
    const out = [];
    for (const id of XA.order) {
      const r = XA.registry[id];
      if (!r.visible) continue;
      const l = r.build();
      if (!l) continue;
      (Array.isArray(l) ? l : [l]).forEach((x) => x && out.push(x));
    }
    state.layers = out.map((l) => l.id);
    XA.deck.setProps({ layers: out });
  };

  XA.toggles = function (el) {
    el.innerHTML = "";
    for (const id of XA.order) {
      const r = XA.registry[id];
      if (r.noToggle) continue;
      const lab = document.createElement("label");
      lab.innerHTML = `<input type="checkbox" data-layer="${id}"${r.visible ? " checked" : ""}> ${XA.esc(r.label)}`;
      lab.querySelector("input").addEventListener("change", (e) => {
        r.visible = e.target.checked;
        XA.render();
      });
      el.appendChild(lab);
    }
  };

  function tooltip(info) {
    const tip = document.getElementById("tooltip");
    const r = info.layer && XA.registry[info.layer.id.split(":")[0]];
    const text = info.object && r && r.tip ? r.tip(info.object) : null;
    if (!text) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.innerHTML = text;
    tip.style.left = info.x + 330 + "px";
    tip.style.top = info.y + 10 + "px";
  }

  /* the standard campus layers, from /map/data/{campus}/scene */
  XA.baseLayers = function (which) {
    const s = XA.scene;
    const L = deck;
    const defs = {
      ground: () => XA.add("ground", "Roads and zones", () => [
        new L.PathLayer({ id: "ground:roads", data: s.roads, getPath: (d) => d.path,
          getColor: (d) => d.color, getWidth: (d) => d.width, widthMinPixels: 1 }),
        new L.PolygonLayer({ id: "ground:zones", data: s.zones, getPolygon: (d) => d.polygon,
          getFillColor: (d) => d.fill, getLineColor: (d) => d.fill.slice(0, 3).concat(255),
          lineWidthMinPixels: 1, pickable: true }),
        new L.PathLayer({ id: "ground:boundary", data: s.boundary, getPath: (d) => d,
          getColor: [255, 255, 255, 220], getWidth: 2, widthUnits: "pixels" }),
      ], { tip: (o) => o.kind ? `${XA.esc(o.name)} (${XA.esc(o.kind)})` : null }),
      buildings: () => XA.add("buildings", "Buildings (3D)", () => new L.PolygonLayer({
        id: "buildings", data: s.buildings, getPolygon: (d) => d.polygon, extruded: true,
        wireframe: true, getElevation: (d) => d.elevation,
        getFillColor: XA.buildingFill || [176, 190, 205, 140], getLineColor: [70, 80, 95, 255],
        pickable: true, autoHighlight: true,
      }), { tip: (o) => `<b>${XA.esc(o.name)}</b><br>${o.floors || "?"} floors, ${o.height_m} m` }),
      floors: () => XA.add("floors", "Floor lines", () => new L.PathLayer({
        id: "floors", data: s.floors, getPath: (d) => d.path, getColor: [90, 100, 115, 200],
        getWidth: 1, widthUnits: "pixels" })),
      rooms: () => XA.add("rooms", "Rooms", () => new L.PolygonLayer({
        id: "rooms", data: s.rooms, getPolygon: (d) => d.polygon, extruded: true,
        getElevation: (d) => d.elevation, getFillColor: [255, 214, 102, 170], wireframe: true,
        getLineColor: [120, 90, 0, 255], pickable: true,
      }), { tip: (o) => `${XA.esc(o.name)}<br>building ${XA.esc(o.building)}, floor ${o.floor}` }),
      pipes: () => XA.add("pipes", "Pipes (underground)", () => new L.PathLayer({
        id: "pipes", data: s.pipes, getPath: (d) => d.path, getColor: (d) => d.color,
        getWidth: (d) => d.width_m, widthUnits: "meters", widthMinPixels: 3, capRounded: true,
        jointRounded: true, pickable: true, autoHighlight: true,
        highlightColor: [255, 255, 255, 200],
      }), { tip: (o) => `<b>${XA.esc(o.fid)}</b> ${XA.esc(o.utility)}<br>Ø ${o.diameter_m} m, crown ${o.depth_m} m deep<br>${XA.esc(o.material || "")}` }),
      valves: () => XA.add("valves", "Valves", () => new L.ScatterplotLayer({
        id: "valves", data: s.valves, getPosition: (d) => d.position, getFillColor: (d) => d.color,
        getLineColor: (d) => d.line, stroked: true, getRadius: 0.6, radiusMinPixels: 3,
        lineWidthMinPixels: 1, pickable: true,
      }), { tip: (o) => `${XA.esc(o.kind)} ${XA.esc(o.fid)} (${XA.esc(o.status)})` }),
      cameras: () => XA.add("cameras", "Cameras", () => new L.ScatterplotLayer({
        id: "cameras", data: s.cameras, getPosition: (d) => d.position,
        getFillColor: [0, 220, 255, 255], getLineColor: [0, 0, 0, 255], stroked: true,
        getRadius: 1, radiusMinPixels: 3, lineWidthMinPixels: 1, pickable: true,
      }), { tip: (o) => `camera ${XA.esc(o.fid)}<br>heading ${o.heading_deg}°, ${o.hfov_deg}° FOV, ${o.range_m} m` }),
      routes: () => XA.add("routes", "Bus routes and stops", () => [
        new L.PathLayer({ id: "routes:lines", data: s.routes, getPath: (d) => d.path,
          getColor: [130, 90, 255, 230], getWidth: 4, widthMinPixels: 3, pickable: true }),
        new L.ScatterplotLayer({ id: "routes:stops", data: s.stops, getPosition: (d) => d.position,
          getFillColor: [255, 255, 255, 255], getLineColor: [130, 90, 255, 255], stroked: true,
          getRadius: 3, radiusMinPixels: 4, lineWidthMinPixels: 2, pickable: true }),
      ], { tip: (o) => o.stop_id ? `stop ${XA.esc(o.name)}` : `route ${XA.esc(o.route_id)}` }),
    };
    which.forEach((w) => defs[w]());
  };

  /* A click is a press and a release of the main button within CLICK_PX of each other,
     however long apart: on a busy machine the release can reach the page seconds after the
     press, and deck.gl's own onClick then takes the pair for a drag. We pick ourselves. */
  const CLICK_PX = 6;
  function clicks(el) {
    let down = null;
    el.addEventListener("pointerdown", (e) => {
      down = e.button === 0 ? { x: e.clientX, y: e.clientY, id: e.pointerId } : null;
    }, true);
    el.addEventListener("pointercancel", () => { down = null; }, true);
    el.addEventListener("pointerup", (e) => {
      const d = down;
      down = null;
      if (!d || e.pointerId !== d.id || Math.hypot(e.clientX - d.x, e.clientY - d.y) > CLICK_PX) return;
      const r = el.getBoundingClientRect();
      XA.click(e.clientX - r.left, e.clientY - r.top, e);
    }, true);
  }

  /* what is under map pixel (x, y): the picked object (if any) and the ground coordinate */
  XA.pick = function (x, y) {
    const info = XA.deck.pickObject({ x: x, y: y, radius: 4 }) || { x: x, y: y, object: null, layer: null };
    if (!info.coordinate) {
      const vp = XA.deck.getViewports()[0];
      info.coordinate = vp ? vp.unproject([x, y]) : null;
    }
    return info;
  };

  XA.click = function (x, y, ev) {
    const info = XA.pick(x, y);
    state.clicks += 1;
    for (const h of XA.clickHooks) if (h(info, ev)) break;
    return info;
  };

  /* the map pixel of lon/lat/z (for tests and for placing labels) */
  XA.project = function (lon, lat, z) {
    const vp = XA.deck.getViewports()[0];
    return vp.project([lon, lat, z || 0]);
  };

  /* centre the view on lon/lat (keeps pitch and bearing) */
  XA.fly = function (lon, lat, zoom) {
    const cur = XA.viewState || XA.deck.props.initialViewState;
    const vs = Object.assign({}, cur, { longitude: lon, latitude: lat, zoom: zoom || 18 });
    XA.viewState = vs;
    XA.deck.setProps({ initialViewState: vs });
  };

  /* load the campus scene and start deck.gl */
  XA.start = async function (which, setup) {
    XA.status("loading…");
    XA.scene = await XA.api(`/map/data/${encodeURIComponent(XA.campus)}/scene`);
    document.getElementById("campus-name").textContent = XA.scene.name;
    const v = XA.scene.view;
    XA.deck = new deck.Deck({
      parent: document.getElementById("map"),
      views: new deck.MapView({ nearZMultiplier: XA.scene.nearZ, farZMultiplier: XA.scene.farZ,
        controller: true }),
      initialViewState: { longitude: v.longitude, latitude: v.latitude, zoom: v.zoom,
        pitch: v.pitch, bearing: v.bearing, maxPitch: v.maxPitch, minZoom: v.min_zoom,
        maxZoom: v.max_zoom },
      controller: true,
      parameters: { clearColor: [0.063, 0.078, 0.102, 1] },
      glOptions: { preserveDrawingBuffer: true },
      onHover: tooltip,
      onAfterRender: () => { state.frames += 1; },
      onViewStateChange: ({ viewState }) => { XA.viewState = viewState; },
      onError: (e) => { state.errors.push(String(e && e.message || e)); XA.status(String(e)); },
      layers: [],
    });
    clicks(document.getElementById("map"));
    XA.baseLayers(which);
    if (setup) await setup();
    XA.render();
    state.ready = true;
    XA.status("");
  };
})();
