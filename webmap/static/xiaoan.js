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
    readyHooks: [],  // run once the map is up
    viewHooks: [],   // run with the new view state when it changes
    scene: null,
    deck: null,
  });

  XA.status = function (msg) { document.getElementById("status").textContent = msg || ""; };

  /* the reader's language: the page carries the translated messages (one gettext catalogue,
     i18n/); XA._(msgid, {name: value}) fills {name} placeholders */
  XA.data = function (id, fallback) {  // a JSON data block of the page (no inline script: CSP)
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : fallback;
  };
  const I18N = XA.data("xa-i18n", { locale: "en", messages: {} });
  XA.locale = I18N.locale;
  const _ = (XA._ = function (msg, vars) {
    const t = I18N.messages[msg] || msg;
    return vars ? t.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : t;
  });

  /* the words of the data's vocabularies (states, kinds, severities) a person reads */
  const WORDS = {
    open: _("open"), acknowledged: _("acknowledged"), dispatched: _("dispatched"), resolved: _("resolved"),
    reported: _("reported"), assigned: _("assigned"), rectifying: _("rectifying"),
    awaiting_recheck: _("awaiting recheck"), closed: _("closed"),
    alarm: _("alarm button"), smoke: _("smoke"), fire: _("fire"), gas: _("gas leak"),
    water_pressure: _("water pressure"), water_leak: _("water leak"), intrusion: _("intrusion"),
    fence: _("fence"), door: _("door"), video_analytics: _("video analytics"), fall: _("fall"),
    crowd: _("crowd"), temperature: _("temperature"), power: _("power"),
    info: _("info"), low: _("low"), medium: _("medium"), high: _("high"), critical: _("critical"),
    safety: _("safety"), electrical: _("electrical"), structural: _("structural"),
    normally_open: _("normally open"), normally_closed: _("normally closed"),
  };
  XA.word = function (w) { return w == null ? "" : WORDS[w] || String(w); };

  /* campus-local date and time of an ISO 8601 instant: "2026-01-15 12:00:00" */
  XA.tz = document.body.dataset.tz || "UTC";
  const clockFmt = new Intl.DateTimeFormat("en-CA", { timeZone: XA.tz, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  XA.time = function (t) {
    if (t == null || t === "") return "";
    const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
    if (isNaN(d)) return String(t);
    const p = Object.fromEntries(clockFmt.formatToParts(d).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  };
  /* Chinese desktops' fonts first (the same stack as xiaoan.css), for canvas text */
  XA.FONTS = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", ' +
    '"WenQuanYi Micro Hei", "Hiragino Sans GB", "Noto Sans", "DejaVu Sans", sans-serif';
  XA.number = function (x, digits) {
    return Number(x).toLocaleString(XA.locale, { maximumFractionDigits: digits == null ? 0 : digits });
  };

  /* what a person calls a thing: its imported name, else "教学楼 12 / building 12" */
  const USE = { teaching: _("teaching building"), dormitory: _("dormitory"), lab: _("laboratory"),
    laboratory: _("laboratory"), library: _("library"), canteen: _("canteen"), office: _("office building"),
    sports: _("sports hall"), gym: _("sports hall"), hospital: _("clinic") };
  XA.buildingName = function (b) {
    if (!b) return "";
    if (b.named !== false && b.name) return b.name;
    return `${USE[b.use] || _("building")} ${b.seq != null ? b.seq : b.fid}`;
  };
  XA.buildingById = function (fid) {
    if (!XA._buildings) {
      XA._buildings = new Map();
      for (const b of (XA.scene && XA.scene.buildings) || []) XA._buildings.set(String(b.fid), b);
    }
    return XA._buildings.get(String(fid));
  };
  XA.nameOfBuilding = function (fid) {
    const b = XA.buildingById(fid);
    return b ? XA.buildingName(b) : String(fid);
  };
  (function tick() {
    const c = document.getElementById("clock");
    if (c) c.textContent = XA.time(new Date());
    setTimeout(tick, 1000);
  })();
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
      const keys = (r.legend || []).map(([c, t]) =>
        `<span class="key"><i style="background:${XA.esc(c)}"></i>${XA.esc(t)}</span>`).join("");
      lab.innerHTML = `<input type="checkbox" data-layer="${id}"${r.visible ? " checked" : ""}> ${XA.esc(r.label)}` +
        (keys ? `<span class="keys">${keys}</span>` : "");
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
    const UT = { water: _("water"), sewer: _("sewer"), drain: _("storm drain"), gas: _("gas"),
      power: _("power"), telecom: _("telecom"), heat: _("heating") };
    XA.utilityName = (u) => UT[u] || u || _("unknown");
    const defs = {
      ground: () => XA.add("ground", _("Roads and zones"), () => [
        new L.PathLayer({ id: "ground:roads", data: s.roads, getPath: (d) => d.path,
          getColor: (d) => d.color, getWidth: (d) => d.width, widthMinPixels: 1, pickable: true }),
        new L.PolygonLayer({ id: "ground:zones", data: s.zones, getPolygon: (d) => d.polygon,
          getFillColor: (d) => d.fill, getLineColor: (d) => d.fill.slice(0, 3).concat(255),
          lineWidthMinPixels: 1, pickable: true }),
        new L.PathLayer({ id: "ground:boundary", data: s.boundary, getPath: (d) => d,
          getColor: [255, 255, 255, 220], getWidth: 2, widthUnits: "pixels" }),
      ], { tip: (o) => o.kind ? `${XA.esc(o.name || "")} (${XA.esc(o.kind)})` : null,
        legend: [["#78808c", _("road")], ["#5a606a", _("path")], ["#ffffff", _("campus boundary")]] }),
      buildings: () => XA.add("buildings", _("Buildings (3D)"), () => new L.PolygonLayer({
        id: "buildings", data: s.buildings, getPolygon: (d) => d.polygon, extruded: true,
        wireframe: true, getElevation: (d) => d.elevation,
        getFillColor: XA.buildingFill || [176, 190, 205, 140], getLineColor: [70, 80, 95, 255],
        pickable: true, autoHighlight: true,
      }), { tip: (o) => `<b>${XA.esc(XA.buildingName(o))}</b><br>${_("{n} floors, {h} m", { n: o.floors || "?", h: o.height_m })}`,
        legend: [["#b0becd", _("building")]] }),
      labels: () => XA.add("labels", _("Building names"), () => new L.TextLayer({
        id: "labels", data: s.buildings.filter((b) => b.label_position),
        getPosition: (d) => [d.label_position[0], d.label_position[1], d.elevation + 1],
        getText: (d) => XA.buildingName(d), getSize: 13, sizeUnits: "pixels", getColor: [255, 255, 255, 255],
        fontFamily: XA.FONTS, characterSet: "auto", outlineWidth: 3, outlineColor: [16, 20, 26, 255],
        fontSettings: { sdf: true }, billboard: true, getTextAnchor: "middle",
        getAlignmentBaseline: "center", parameters: { depthTest: false }, collisionEnabled: false,
      })),
      floors: () => XA.add("floors", _("Floor lines"), () => new L.PathLayer({
        id: "floors", data: s.floors, getPath: (d) => d.path, getColor: [90, 100, 115, 200],
        getWidth: 1, widthUnits: "pixels" }), { legend: [["#5a6473", _("floor level")]] }),
      rooms: () => XA.add("rooms", _("Rooms"), () => new L.PolygonLayer({
        id: "rooms", data: s.rooms, getPolygon: (d) => d.polygon, extruded: true,
        getElevation: (d) => d.elevation, getFillColor: [255, 214, 102, 170], wireframe: true,
        getLineColor: [120, 90, 0, 255], pickable: true,
      }), { tip: (o) => `${XA.esc(o.name)}<br>${_("{b}, floor {f}", { b: XA.esc(XA.nameOfBuilding(o.building)), f: o.floor })}`,
        legend: [["#ffd666", _("room")]] }),
      pipes: () => XA.add("pipes", _("Pipes (underground)"), () => new L.PathLayer({
        id: "pipes", data: s.pipes, getPath: (d) => d.path, getColor: (d) => d.color,
        getWidth: (d) => d.width_m, widthUnits: "meters", widthMinPixels: 3, capRounded: true,
        jointRounded: true, pickable: true, autoHighlight: true,
        highlightColor: [255, 255, 255, 200],
      }), { tip: (o) => `<b>${XA.esc(XA.utilityName(o.utility))} ${XA.esc(o.name || "")}</b><br>${_("Ø {d} m, crown {c} m deep", { d: o.diameter_m, c: o.depth_m })}<br><span class="hint">${XA.esc(o.fid)}</span>`,
        legend: Object.entries(s.utility_colours || {}).map(([u, c]) => [c, XA.utilityName(u)]) }),
      valves: () => XA.add("valves", _("Valves"), () => new L.ScatterplotLayer({
        id: "valves", data: s.valves, getPosition: (d) => d.position, getFillColor: (d) => d.color,
        getLineColor: (d) => d.line, stroked: true, getRadius: 0.6, radiusMinPixels: 3,
        lineWidthMinPixels: 1, pickable: true,
      }), { tip: (o) => `${_("valve")} ${XA.esc(o.name || o.fid)} (${XA.esc(XA.word(o.status))})`,
        legend: [["#ffffff", _("valve (fill: utility colour)")]] }),
      cameras: () => XA.add("cameras", _("Cameras"), () => new L.ScatterplotLayer({
        id: "cameras", data: s.cameras, getPosition: (d) => d.position,
        getFillColor: [0, 220, 255, 255], getLineColor: [0, 0, 0, 255], stroked: true,
        getRadius: 1, radiusMinPixels: 3, lineWidthMinPixels: 1, pickable: true,
      }), { tip: (o) => `${_("camera")} <b>${XA.esc(o.name || o.fid)}</b><br>${_("heading {h}°, {f}° field of view, {r} m", { h: o.heading_deg, f: o.hfov_deg, r: o.range_m })}`,
        legend: [["#00dcff", _("camera")]] }),
      routes: () => XA.add("routes", _("Bus routes and stops"), () => [
        new L.PathLayer({ id: "routes:lines", data: s.routes, getPath: (d) => d.path,
          getColor: [130, 90, 255, 230], getWidth: 4, widthMinPixels: 3, pickable: true }),
        new L.ScatterplotLayer({ id: "routes:stops", data: s.stops, getPosition: (d) => d.position,
          getFillColor: [255, 255, 255, 255], getLineColor: [130, 90, 255, 255], stroked: true,
          getRadius: 3, radiusMinPixels: 4, lineWidthMinPixels: 2, pickable: true }),
      ], { tip: (o) => o.stop_id ? `${_("stop")} ${XA.esc(o.name)}` : `${_("route")} ${XA.esc(o.name || o.route_id)}`,
        legend: [["#825aff", _("bus route")], ["#ffffff", _("stop")]] }),
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
    state.lastClick = { x: Math.round(x), y: Math.round(y), layer: info.layer ? info.layer.id : null };
    let done = false;
    for (const h of XA.clickHooks) if ((done = h(info, ev))) break;
    if (!done && info.object && info.layer) XA.identify(info.layer.id, info.object);
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
    for (const h of XA.viewHooks) h(vs);
  };

  /* load the campus scene and start deck.gl */
  XA.start = async function (which, setup) {
    XA.status(_("loading…"));
    XA.scene = await XA.api(`/map/data/${encodeURIComponent(XA.campus)}/scene`);
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
      onViewStateChange: ({ viewState }) => {
        XA.viewState = viewState;
        for (const h of XA.viewHooks) h(viewState);
      },
      onError: (e) => { state.errors.push(String(e && e.message || e)); XA.status(String(e)); },
      layers: [],
    });
    clicks(document.getElementById("map"));
    XA.baseLayers(which);
    if (setup) await setup();
    for (const h of XA.readyHooks) h();
    const tg = document.getElementById("toggles");
    if (tg && !tg.children.length) XA.toggles(tg);
    XA.render();
    state.ready = true;
    XA.status("");
  };
})();
