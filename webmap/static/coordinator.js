/* Coordinator: live incident markers (SSE, no reload), incident panel, lifecycle buttons. */
"use strict";
(function () {
  const L = deck;
  const C = encodeURIComponent(XA.campus);
  const _ = XA._;
  // the incident life cycle, from the server (ingest/live/incidents.py): status -> next statuses
  const FLOW = XA.data("xa-flow", { transitions: {}, actions: {} });
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
    ul.innerHTML = window.xiaoan.incidents.length ? "" : `<li>${_("no incidents")}</li>`;
    for (const f of window.xiaoan.incidents) {
      const p = f.properties;
      const li = document.createElement("li");
      li.dataset.incident = p.incident_id;
      if (p.incident_id === selected) li.className = "sel";
      li.innerHTML = `<span class="st-${XA.esc(p.status)}">●</span> <b>${XA.esc(XA.word(p.kind))}</b> ` +
        `${p.building ? XA.esc(XA.nameOfBuilding(p.building)) : ""}${p.floor != null ? " " + XA.esc(_("floor {f}", { f: p.floor })) : ""} ` +
        `<span class="hint">${XA.esc(XA.word(p.status))} · <time datetime="${XA.esc(p.updated_at)}">${XA.esc(XA.time(p.updated_at))}</time></span>`;
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
      `<span class="st-${XA.esc(inc.status)}">${XA.esc(XA.word(inc.kind))}</span> · ${XA.esc(XA.word(inc.severity))} · ${XA.esc(XA.word(inc.status))}`;
    const camName = (fid) => {
      const cam = XA.scene.cameras.find((x) => x.fid === fid);
      return cam && cam.name && cam.name !== fid ? `${cam.name} (${fid})` : fid;
    };
    const bname = b.id ? (b.name && b.name !== b.id ? b.name : XA.nameOfBuilding(b.id)) : _("outdoors");
    document.getElementById("inc-facts").innerHTML =
      fact(_("building"), XA.esc(bname) + (b.id ? `<br><span class="hint">${_("source id")} ${XA.esc(b.id)}</span>` : "")) +
      fact(_("floor"), c.floor != null ? XA.esc(c.floor) : "") +
      fact(_("room"), c.room ? XA.esc(c.room.name || c.room.id) : "") +
      fact(_("risk"), inc.risk ? `<span style="color:${XA.esc(inc.risk.colour)}">■</span> ${XA.esc(XA.word(inc.risk.level))}` : "") +
      fact(_("cameras"), (inc.linkage.cameras_to_pop_up || []).map((x) => XA.esc(camName(x))).join(", ") || _("none")) +
      fact(_("station"), j.station ? `${XA.esc(j.station)}<br>${XA.esc(j.phone || "")}` : "") +
      fact(_("responsible"), (c.responsible || []).map((r) => `${XA.esc(r.name)} (${XA.esc(r.role)})`).join("<br>")) +
      fact(_("events"), XA.esc(inc.event_count)) +
      fact(_("first event"), `<time id="inc-first" datetime="${XA.esc(inc.first_event_at)}">${XA.esc(XA.time(inc.first_event_at))}</time>`) +
      fact(_("last event"), XA.esc(XA.time(inc.last_event_at))) +
      fact(_("updated"), XA.esc(XA.time(inc.updated_at))) +
      fact(_("plan"), inc.plan ? _("started") : _("not started"));
    // only the actions the incident's status allows
    const next = FLOW.transitions[inc.status] || [];
    document.querySelectorAll("#incident-panel button[data-action]").forEach((btn) => {
      const a = btn.dataset.action;
      btn.disabled = a === "plan" ? !!inc.plan || inc.status === "resolved" : !next.includes(FLOW.actions[a]);
    });
    const or = _(" or ");
    const steps = next.map(XA.word).join(or);
    document.getElementById("inc-next").textContent = next.length
      ? _("Next: {steps}", { steps: steps }) : _("Closed: no further steps.");
    const pl = document.getElementById("inc-plan");
    const plan = inc.plan;
    pl.innerHTML = plan ? `<h3>${_("Plan started")}</h3><p>${_("by {who} at {t}, radius {r} m", { who: XA.esc(plan.started_by || "?"), t: XA.esc(XA.time(plan.started_at)), r: XA.esc(plan.radius_m) })}</p>` +
      `<p><b>${_("Evacuate")}</b></p><ul>${(plan.evacuate || []).map((e) => `<li>${XA.esc(e.name && e.name !== e.building ? e.name : XA.nameOfBuilding(e.building))}: ${_("floors")} ${XA.esc((e.floors || []).join(", "))} <span class="hint">${XA.esc(e.reason || "")}</span></li>`).join("")}</ul>` +
      `<p>${_("{n} message(s) to send", { n: (plan.messages || []).length })}</p>` : "";
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
    es.onopen = () => { badge.textContent = _("live"); badge.className = "badge ok"; window.xiaoan.live = true; };
    es.onerror = () => { badge.textContent = _("reconnecting"); badge.className = "badge"; window.xiaoan.live = false; };
    es.addEventListener("incident", (e) => upsert(JSON.parse(e.data)));
    window.xiaoan.stream = es;
  }

  XA.start(["ground", "buildings", "labels", "floors", "rooms", "cameras"], async () => {
    XA.add("incidents", _("Incidents"), () => {
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
    }, { tip: (f) => `<b>${XA.esc(XA.word(f.properties.kind))}</b> ${XA.esc(XA.word(f.properties.status))}<br>${XA.esc(f.properties.building ? XA.nameOfBuilding(f.properties.building) : "")} ${f.properties.floor != null ? XA.esc(_("floor {f}", { f: f.properties.floor })) : ""}`,
      legend: [["#eb1e1e", _("open")], ["#ff9600", _("acknowledged")], ["#2878ff", _("dispatched")], ["#969696", _("resolved")]] });
    XA.add("linked", _("Cameras to pop up, police station"), () => [
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
    ], { tip: (d) => d.c ? _("camera to pop up: {c}", { c: XA.esc(d.c.name || d.c.fid) }) : _("police: {s}", { s: XA.esc(d.name) }),
      legend: [["#00e6ff", _("camera to pop up, sight line")], ["#1e3cc8", _("police station")], ["#ff3c3c", _("building to evacuate")]] });
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
