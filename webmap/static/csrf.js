// Cookie-authenticated writes need the CSRF token: every same-origin fetch that is not a
// GET carries the xiaoan_csrf cookie's value in X-CSRF-Token (see docs/security.md).
"use strict";
(function () {
  const orig = window.fetch.bind(window);
  function token() {
    const m = document.cookie.match(/(?:^|;\s*)xiaoan_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : null;
  }
  window.fetch = function (input, init) {
    const o = Object.assign({}, init || {});
    const method = (o.method || (input && input.method) || "GET").toUpperCase();
    const url = new URL(typeof input === "string" ? input : input.url, window.location.href);
    const t = token();
    if (t && method !== "GET" && method !== "HEAD" && url.origin === window.location.origin) {
      const h = new Headers(o.headers || (input && input.headers) || {});
      h.set("X-CSRF-Token", t);
      o.headers = h;
    }
    return orig(input, o);
  };
})();
