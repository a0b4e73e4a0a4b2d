/* Coordinator: live incident markers (SSE, no reload), incident panel, lifecycle buttons. */
"use strict";
(function () {
  const L = deck;
  const C = encodeURIComponent(XA.campus);
  const STATUS = { open: [235, 30, 30, 255], acknowledged: [255, 150, 0, 255],
    dispatched: [40, 120, 255, 255], resolved: [150, 150, 150, 200] };
  const byId = new Map();   // incident id -> marker Feature
  let selected = null;
  const linked = { cams: [], station: [], evacuate: new Set() };
  window.xiaoan.incidents = [];   // marker Features, newest first (read by the tests)

  function upsert(f) {
    byId.set(f.properties.incident_id, f);
    window.xiaoan.incidents = Array.from(byId.values())
      .sort((a, b) => String(b.properties.updated_at).localeCompare(String(a.properties.updated_at)));
    list();
    XA.render();
  }

  function list() {
    const ul = document.getElementById("incidents");
    ul.innerHTML = window.xiaoan.incidents.length ? "" : "<li>no incidents</li>";
    for (const f of window.xiaoan.incidents) {
      const p = f.properties;
      const li = document.createElement("li");
      li.dataset.incident = p.incident_id;
      if (p.incident_id === selected) li.className = "sel";
      li.innerHTML = `<span class="st-${XA.esc(p.status)}">●</span> <b>${XA.esc(p.kind)}</b> ` +
        `${XA.esc(p.building || "")}${p.floor != null ? " F" + p.floor : ""} ` +
        `<span class="hint">${XA.esc(p.status)} · ${XA.esc(String(p.updated_at).slice(11, 19))}</span>`;
      li.onclick = () => select(p.incident_id);
      ul.appendChild(li);
    }
  }

  function fact(k, v) { return v ? `<dt>${XA.esc(k)}</dt><dd>${v}</dd>` : ""; }

  async function select(id) {
    selected = id;
    list();
    const inc = await XA.api(`/api/v1/incidents/${encodeURIComponent(id)}`);
    const c = inc.context || {};
    const b = c.building || {};
    const j = (inc.linkage && inc.linkage.notify_station) || c.jurisdiction || {};
    document.getElementById("incident-panel").hidden = false;
    document.getElementById("inc-title").innerHTML =
      `<span class="st-${XA.esc(inc.status)}">${XA.esc(inc.kind)}</span> · ${XA.esc(inc.severity)} · ${XA.esc(inc.status)}`;
    document.getElementById("inc-facts").innerHTML =
      fact("building", XA.esc(b.name || b.id || "outdoors")) +
      fact("floor", c.floor != null ? XA.esc(c.floor) : "") +
      fact("room", c.room ? XA.esc(c.room.name || c.room.id) : "") +
      fact("risk", inc.risk ? `<span style="color:${XA.esc(inc.risk.colour)}">■</span> ${XA.esc(inc.risk.level)}` : "") +
      fact("cameras", (inc.linkage.cameras_to_pop_up || []).map(XA.esc).join(", ") || "none") +
      fact("station", j.station ? `${XA.esc(j.station)}<br>${XA.esc(j.phone || "")}` : "") +
      fact("responsible", (c.responsible || []).map((r) => `${XA.esc(r.name)} (${XA.esc(r.role)})`).join("<br>")) +
      fact("events", XA.esc(inc.event_count)) +
      fact("plan", inc.plan ? "started" : "not started");
    const pl = document.getElementById("inc-plan");
    const plan = inc.plan;
    pl.innerHTML = plan ? `<h3>Plan started</h3><p>by ${XA.esc(plan.started_by || "?")} at ${XA.esc(String(plan.started_at).slice(11, 19))}, radius ${XA.esc(plan.radius_m)} m</p>` +
      `<p><b>Evacuate</b></p><ul>${(plan.evacuate || []).map((e) => `<li>${XA.esc(e.name || e.building)}: floors ${XA.esc((e.floors || []).join(", "))} <span class="hint">${XA.esc(e.reason || "")}</span></li>`).join("")}</ul>` +
      `<p>${(plan.messages || []).length} message(s) to send</p>` : "";
    linked.evacuate = new Set(((plan && plan.evacuate) || []).map((e) => e.building));
    window.xiaoan.selected = inc;
    // the cameras to pop up, each with a sight line to the spot, and the police station
    const pos = [inc.position.lon, inc.position.lat, inc.position.z || 0];
    const want = new Set(inc.linkage.cameras_to_pop_up || []);
    linked.cams = XA.scene.cameras.filter((c) => want.has(c.fid)).map((c) => ({ c: c, to: pos }));
    linked.station = j.station_lon != null ? [{ position: [j.station_lon, j.station_lat, 0.5], name: j.station }] : [];
    XA.render();
    const f = byId.get(id);
    if (f) {
      const [lon, lat] = f.geometry.coordinates;
      XA.fly(lon, lat, 17.2);
    }
  }

  async function act(action) {
    if (!selected) return;
    const body = action === "plan" ? { by: "coordinator" } : { by: "coordinator" };
    await XA.api(`/api/v1/incidents/${encodeURIComponent(selected)}/${action}`, { json: body });
    await refresh();
    await select(selected);
  }

  async function refresh() {
    const r = await XA.api(`/api/v1/incidents?campus=${C}&limit=500`);
    r.features.forEach((f) => byId.set(f.properties.incident_id, f));
    if (r.features.length) upsert(r.features[0]); else list();
  }

  function connect() {
    const es = new EventSource(`/api/v1/stream?campus=${C}`);
    const badge = document.getElementById("live");
    es.onopen = () => { badge.textContent = "live"; badge.className = "badge ok"; window.xiaoan.live = true; };
    es.onerror = () => { badge.textContent = "reconnecting"; badge.className = "badge"; window.xiaoan.live = false; };
    es.addEventListener("incident", (e) => upsert(JSON.parse(e.data)));
    window.xiaoan.stream = es;
  }

  XA.start(["ground", "buildings", "floors", "rooms", "cameras"], async () => {
    XA.add("incidents", "Incidents", () => {
      const data = window.xiaoan.incidents.filter((f) => f.geometry);
      return [
        new L.LineLayer({ id: "incidents:stems", data: data,
          getSourcePosition: (f) => [f.geometry.coordinates[0], f.geometry.coordinates[1], 0],
          getTargetPosition: (f) => f.geometry.coordinates,
          getColor: (f) => STATUS[f.properties.status] || STATUS.open, getWidth: 3,
          parameters: { depthTest: false } }),
        new L.ScatterplotLayer({ id: "incidents:markers", data: data, getPosition: (f) => f.geometry.coordinates,
          getFillColor: (f) => STATUS[f.properties.status] || STATUS.open, getLineColor: [255, 255, 255, 255],
          stroked: true, getRadius: 2.5, radiusMinPixels: 10, lineWidthMinPixels: 3, pickable: true,
          billboard: true, parameters: { depthTest: false },
          updateTriggers: { getFillColor: window.xiaoan.incidents.map((f) => f.properties.status).join() } }),
      ];
    }, { tip: (f) => `<b>${XA.esc(f.properties.kind)}</b> ${XA.esc(f.properties.status)}<br>${XA.esc(f.properties.building || "")} F${XA.esc(f.properties.floor)}` });
    XA.add("linked", "Cameras to pop up, police station", () => [
      new L.PolygonLayer({ id: "linked:evacuate", data: XA.scene.buildings.filter((b) => linked.evacuate.has(b.fid)),
        getPolygon: (d) => d.polygon, extruded: true, getElevation: (d) => d.elevation + 0.5,
        getFillColor: [255, 60, 60, 110], getLineColor: [255, 80, 80, 255], wireframe: true }),
      new L.LineLayer({ id: "linked:sight", data: linked.cams, getSourcePosition: (d) => d.c.position,
        getTargetPosition: (d) => d.to, getColor: [0, 230, 255, 255], getWidth: 2, parameters: { depthTest: false } }),
      new L.ScatterplotLayer({ id: "linked:cameras", data: linked.cams, getPosition: (d) => d.c.position,
        getFillColor: [0, 230, 255, 255], getLineColor: [255, 255, 255, 255], stroked: true, getRadius: 1.5,
        radiusMinPixels: 7, lineWidthMinPixels: 2, pickable: true, parameters: { depthTest: false } }),
      new L.ScatterplotLayer({ id: "linked:station", data: linked.station, getPosition: (d) => d.position,
        getFillColor: [30, 60, 200, 255], getLineColor: [255, 255, 255, 255], stroked: true, getRadius: 4,
        radiusMinPixels: 9, lineWidthMinPixels: 2, pickable: true }),
    ], { tip: (d) => d.c ? `camera to pop up: ${XA.esc(d.c.fid)}` : `police: ${XA.esc(d.name)}` });
    XA.order.push(XA.order.splice(XA.order.indexOf("incidents"), 1)[0]);  // markers on top
    XA.clickHooks.push((info) => {
      if (info.object && info.layer && info.layer.id === "incidents:markers") {
        select(info.object.properties.incident_id);
        return true;
      }
      return false;
    });
    document.querySelectorAll("#incident-panel button").forEach((b) => {
      b.onclick = () => act(b.dataset.action).catch((e) => XA.status(String(e)));
    });
    document.getElementById("demo-alarm").onclick = () => {
      const room = XA.scene.rooms[Math.floor(Math.random() * XA.scene.rooms.length)];
      if (!room) return;
      XA.api("/api/v1/events", { json: { event_id: `demo-${Date.now()}`, kind: "smoke",
        occurred_at: new Date().toISOString(), source: "web map demo button (synthetic)",
        building: room.building, floor: room.floor } }).catch((e) => XA.status(String(e)));
    };
    await refresh();
    connect();
  }).catch((e) => XA.status(String(e)));
  window.xiaoan.selectIncident = (id) => select(id);
})();
