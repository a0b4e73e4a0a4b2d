/* Bus dispatch: live buses on roads and routes, ETA board per route, off-route alerts,
   track replay (TripsLayer). */
"use strict";
(function () {
  const L = deck;
  const C = encodeURIComponent(XA.campus);
  const _ = XA._;
  const ds = (window.xiaoan.dispatch = { buses: [], alerts: [], trips: [], time: 0, end: 0 });

  function secs(t) { return Date.parse(t) / 1000; }

  async function poll() {
    const r = await XA.api(`/api/v1/buses/${C}`);
    ds.buses = r.buses;
    const ul = document.getElementById("buses");
    ul.innerHTML = r.buses.length ? "" : `<li>${_("no bus has reported yet")}</li>`;
    const sel = document.getElementById("replay-bus");
    const known = new Set(Array.from(sel.options).map((o) => o.value));
    for (const b of r.buses) {
      const off = b.off_route && b.off_route.active;
      const rt = b.route ? `${_("route")} ${XA.esc(b.route.route_id)} ${Math.round((b.route.fraction || 0) * 100)} %` : _("no route");
      ul.insertAdjacentHTML("beforeend", `<li data-bus="${XA.esc(b.bus)}"><b>${XA.esc(b.bus)}</b> ${rt}` +
        `${off ? ' <span class="alert">' + XA.esc(_("OFF ROUTE {m} m", { m: b.route.distance_off_m })) + "</span>" : ""}` +
        ` <span class="hint"><time datetime="${XA.esc(b.t)}">${XA.esc(XA.time(b.t))}</time></span></li>`);
      if (!known.has(b.bus)) sel.add(new Option(b.bus, b.bus));
      for (const e of (b.off_route && b.off_route.episodes) || []) addAlert(b.bus, e.start, e);
    }
    eta(r);
    XA.render();
  }

  function eta(r) {
    const byRoute = {};
    for (const b of r.buses) {
      const rid = b.route ? b.route.route_id : _("(no route)");
      (byRoute[rid] = byRoute[rid] || []).push(b);
    }
    let h = "";
    for (const rid of r.routes.concat(Object.keys(byRoute).filter((k) => !r.routes.includes(k)))) {
      h += `<h4>${_("route")} ${XA.esc(rid)}</h4><table><tr><th>${_("bus")}</th><th>${_("stop")}</th><th>${_("ETA")}</th></tr>`;
      const rows = (byRoute[rid] || []).flatMap((b) => b.next_stops.map((s) =>
        `<tr><td>${XA.esc(b.bus)}</td><td>${XA.esc(s.name || s.stop_id)}</td><td>${XA.esc(XA.time(s.eta))} ${XA.esc(_("(in {m} min)", { m: Math.max(0, Math.round(s.in_s / 60)) }))}</td></tr>`));
      h += rows.join("") || `<tr><td colspan="3" class="hint">${_("no predictions")}</td></tr>`;
      h += "</table>";
    }
    document.getElementById("eta").innerHTML = h;
  }

  /* one alert per off-route episode (bus, start second); later news updates it */
  function addAlert(bus, start, e) {
    const s = Math.round(typeof start === "number" ? start : secs(start));
    const id = `${bus}|${s}`;
    let a = ds.alerts.find((x) => x.id === id);
    if (!a) { a = { id: id, bus: bus, start: s }; ds.alerts.unshift(a); }
    if (e.max_off_m != null) a.max_off_m = e.max_off_m;
    if (e.distance_off_m != null) a.max_off_m = Math.max(a.max_off_m || 0, e.distance_off_m);
    if (e.end != null || e.state === "ended") a.ended = true;
    document.getElementById("alerts").innerHTML = ds.alerts.map((x) =>
      `<li class="alert">${XA.esc(_("{bus} off route from {t}", { bus: x.bus, t: XA.time(x.start) }))}` +
      `${x.max_off_m != null ? XA.esc(_(", up to {m} m", { m: x.max_off_m })) : ""}${x.ended ? XA.esc(_(" (back on route)")) : XA.esc(_(" (now)"))}</li>`).join("");
  }

  function listen() {
    const es = new EventSource(`/api/v1/stream?campus=${C}`);
    es.addEventListener("event", (m) => {
      const f = JSON.parse(m.data);
      const p = f.properties || {};
      if (p.kind === "bus_off_route" && p.bus && p.off_since) addAlert(p.bus, p.off_since, p);
      if (String(p.kind || "").startsWith("bus_")) poll().catch(() => {});
    });
    ds.stream = es;
  }

  ds.replay = async function (bus, ms) {
    const fc = await XA.api(`/api/v1/buses/${C}/${encodeURIComponent(bus)}/track`);
    const line = fc.features.find((f) => f.geometry && f.geometry.type === "LineString");
    if (!line) return 0;
    const ts = line.properties.times.map(secs);
    const t0 = ts[0];
    ds.trips = [{ bus: bus, path: line.geometry.coordinates, timestamps: ts.map((t) => t - t0) }];
    ds.t0 = t0;
    ds.end = ts[ts.length - 1] - t0;
    const start = performance.now();
    const dur = ms || 8000;
    const step = () => {
      const f = Math.min((performance.now() - start) / dur, 1);
      ds.time = f * ds.end;
      document.getElementById("replay-t").value = f;
      label();
      XA.render();
      if (f < 1) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
    return ds.trips[0].path.length;
  };

  /* synthetic demo bus: fixes along the first route, with a detour in the middle third */
  ds.drive = async function (opts) {
    const o = Object.assign({ bus: "demo-bus", interval: 500, n: 40, upto: 1, detour: true }, opts || {});
    const route = XA.scene.routes[0];
    if (!route) return;
    const p = route.path;
    const cum = [0];
    for (let i = 1; i < p.length; i++) cum.push(cum[i - 1] + Math.hypot((p[i][0] - p[i - 1][0]) * Math.cos(p[i][1] * Math.PI / 180), p[i][1] - p[i - 1][1]));
    const at = (s) => {
      let i = 1;
      while (i < p.length - 1 && cum[i] < s) i++;
      const f = (s - cum[i - 1]) / ((cum[i] - cum[i - 1]) || 1);
      return [p[i - 1][0] + f * (p[i][0] - p[i - 1][0]), p[i - 1][1] + f * (p[i][1] - p[i - 1][1])];
    };
    // each fix is stamped with the time it is sent (the service refuses fixes more than
    // 5 min ahead, and times must not go backwards): pressing the button again continues
    // on real time instead of colliding with the previous run's future fixes
    let last = 0;
    for (let k = 0; k < o.n; k++) {
      let [lon, lat] = at(cum[cum.length - 1] * o.upto * k / (o.n - 1));
      if (o.detour && k > o.n * 0.45 && k < o.n * 0.65) lat += 0.0011;  // ~120 m north
      last = Math.max(Date.now(), last + 1);
      const t = new Date(last).toISOString();
      await XA.api(`/api/v1/buses/${C}/fixes`, { json: { bus: o.bus, lon: lon, lat: lat, t: t, route: route.route_id } });
      if (o.interval) { await poll(); await new Promise((r) => setTimeout(r, o.interval)); }
    }
    await poll();
  };

  /* the replay slider's label: the campus-local time of the replayed position */
  function label() {
    const out = document.getElementById("replay-label");
    out.textContent = ds.t0 != null ? XA.time(ds.t0 + ds.time) : "–";
    ds.label = out.textContent;
  }

  XA.start(["ground", "buildings", "labels", "routes"], async () => {
    XA.add("trips", _("Replay"), () => new L.TripsLayer({
      id: "trips", data: ds.trips, getPath: (d) => d.path, getTimestamps: (d) => d.timestamps,
      getColor: [255, 200, 0], widthMinPixels: 5, trailLength: Math.max(ds.end, 1),
      currentTime: ds.time, fadeTrail: false, capRounded: true, jointRounded: true,
      parameters: { depthTest: false } }), { legend: [["#ffc800", _("replayed track")]] });
    XA.add("buses", _("Buses"), () => new L.ScatterplotLayer({
      id: "buses", data: ds.buses, getPosition: (b) => {
        const m = b.matched && b.matched.lon != null ? b.matched : b.position;
        return [m.lon, m.lat, 1.5];
      }, getFillColor: (b) => (b.off_route && b.off_route.active ? [255, 40, 40, 255] : [255, 200, 0, 255]),
      getLineColor: [0, 0, 0, 255], stroked: true, getRadius: 4, radiusMinPixels: 8, lineWidthMinPixels: 2,
      pickable: true, parameters: { depthTest: false },
      updateTriggers: { getFillColor: ds.buses.map((b) => b.off_route && b.off_route.active).join() },
    }), { tip: (b) => `<b>${_("bus")} ${XA.esc(b.bus)}</b><br>${b.route ? XA.esc(_("route {r}, {m} m off", { r: b.route.route_id, m: b.route.distance_off_m })) : ""}`,
      legend: [["#ffc800", _("bus on route")], ["#ff2828", _("bus off route")]] });
    XA.registry.buildings.build = ((orig) => () => orig().clone({ getFillColor: [176, 190, 205, 90] }))(XA.registry.buildings.build);
    document.getElementById("demo-drive").onclick = () => ds.drive().catch((e) => XA.status(String(e)));
    document.getElementById("replay").onclick = () => {
      const b = document.getElementById("replay-bus").value;
      if (b) ds.replay(b).catch((e) => XA.status(String(e)));
    };
    document.getElementById("replay-t").oninput = (e) => { ds.time = e.target.value * ds.end; label(); XA.render(); };
    await poll();
    listen();
    setInterval(() => poll().catch(() => {}), 3000);
  }).catch((e) => XA.status(String(e)));
})();
