// The login page: posts the form as JSON to /auth/session (which sets the session cookie),
// then goes to the page the user came for (same site only).
"use strict";
(function () {
  const form = document.getElementById("login-form");
  const err = document.getElementById("login-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const body = JSON.stringify({
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    });
    const r = await fetch("/auth/session", {
      method: "POST", headers: { "Content-Type": "application/json" }, body,
      credentials: "same-origin",
    });
    if (r.ok) {
      let next = document.body.dataset.next || "/map/";
      if (!next.startsWith("/") || next.startsWith("//")) next = "/map/";
      window.location.assign(next);
      return;
    }
    let detail = r.statusText;
    try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
    err.textContent = detail;
    err.hidden = false;
  });
})();
