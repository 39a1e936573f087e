// Folio console: sign-in, live panels over server-sent events (paused while the tab is hidden), actions.
// Plain DOM, no framework, no inline script: the page's CSP allows only this file.
"use strict";
(function () {
  const HOUR_S = 3600;
  const $ = (id) => document.getElementById(id);
  const state = { session: null, events: null, history: [], last: null };

  function problemText(body, fallback) {
    return (body && (body.detail || body.title)) || fallback;
  }

  async function call(method, url, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.session && method !== "GET") headers["X-CSRF-Token"] = state.session.csrf_token;
    const response = await fetch(url, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
    return { ok: response.ok, status: response.status, body: parsed };
  }

  // --- formatting -------------------------------------------------------------------------------
  function fmt(value, el) {
    if (value === null || value === undefined) return "–";
    if (el && el.hasAttribute("data-pct")) return (value * 100).toFixed(1) + " %";
    const unit = (el && el.getAttribute("data-unit")) || "";
    const prefix = (el && el.getAttribute("data-prefix")) || "";
    const n = Number(value);
    const text = Number.isInteger(n) ? n.toLocaleString("en") : n.toLocaleString("en", { maximumFractionDigits: 2 });
    return prefix + text + unit;
  }

  function pick(obj, path) {
    return path.split(".").reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "–" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function fillTable(id, rows, build, empty) {
    const body = $(id);
    body.replaceChildren();
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell(tr, empty);
      td.colSpan = body.parentElement.querySelectorAll("thead th").length;
      body.appendChild(tr);
      return;
    }
    for (const r of rows) body.appendChild(build(r));
  }

  // --- charts: plain SVG polylines over the last hour --------------------------------------------
  const SVG = "http://www.w3.org/2000/svg";
  function drawChart(fig) {
    const keys = fig.getAttribute("data-chart").split(",");
    const line = fig.hasAttribute("data-line") ? Number(fig.getAttribute("data-line")) : null;
    const now = Date.now() / 1000;
    const points = state.history.filter((p) => p.t >= now - HOUR_S);
    // The x axis spans the hour, or less while there is less history (then it grows until it is an hour).
    const start = points.length ? Math.max(now - HOUR_S, Math.min(points[0].t, now - 60)) : now - HOUR_S;
    const span = now - start;
    const W = 600, H = 110;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    const latest = points.length ? points[points.length - 1] : {};
    const summary = keys.map((k) => `${k.replace(/_/g, " ")} ${fmt(latest[k])}`).join(", ");
    svg.setAttribute("aria-label", `${fig.getAttribute("data-label")}: now ${summary}`);
    keys.forEach((key, i) => {
      const values = points.map((p) => p[key]).filter((v) => v !== null && v !== undefined);
      let max = Math.max(line || 0, ...values, 1e-9);
      if (line !== null) max = 1;
      const xy = points
        .filter((p) => p[key] !== null && p[key] !== undefined)
        .map((p) => `${(((p.t - start) / span) * W).toFixed(1)},${(H - 4 - (p[key] / max) * (H - 8)).toFixed(1)}`);
      if (xy.length) {
        const poly = document.createElementNS(SVG, "polyline");
        poly.setAttribute("points", xy.length === 1 ? `${xy[0]} ${xy[0]}` : xy.join(" "));
        poly.setAttribute("class", "s" + i);
        svg.appendChild(poly);
      }
    });
    if (line !== null) {
      const y = (H - 4 - line * (H - 8)).toFixed(1);
      const l = document.createElementNS(SVG, "line");
      l.setAttribute("x1", "0"); l.setAttribute("x2", String(W)); l.setAttribute("y1", y); l.setAttribute("y2", y);
      l.setAttribute("class", "alert");
      svg.appendChild(l);
    }
    const caption = document.createElement("figcaption");
    keys.forEach((key, i) => {
      const span = document.createElement("span");
      const values = points.map((p) => p[key]).filter((v) => v !== null && v !== undefined);
      span.className = "k" + i;
      span.textContent = (i ? "  ·  " : "") + key.replace(/_/g, " ") + (values.length && line === null ? ` (top ${fmt(Math.max(...values))})` : "");
      caption.appendChild(span);
    });
    const since = span >= HOUR_S - 1 ? "last hour" : `since ${new Date(start * 1000).toLocaleTimeString("en-GB")}`;
    caption.appendChild(document.createTextNode(`  ·  ${since}` + (line !== null ? "  ·  dashed: 85 % alert line" : "")));
    fig.replaceChildren(svg, caption);
  }

  function drawCharts() { document.querySelectorAll("figure[data-chart]").forEach(drawChart); }

  // --- panels -----------------------------------------------------------------------------------
  function render(snap) {
    state.last = snap;
    document.querySelectorAll("[data-k]").forEach((el) => {
      const values = el.getAttribute("data-k").split(",").map((k) => fmt(pick(snap, k), el));
      el.textContent = values.join(" / ");
    });
    fillTable("routes", snap.traffic.routes, (r) => {
      const tr = document.createElement("tr");
      cell(tr, r.route, "id"); cell(tr, fmt(r.rps), "num"); cell(tr, fmt(r.errors), "num");
      cell(tr, fmt(r.slow), "num"); cell(tr, fmt(r.total), "num");
      return tr;
    }, "No requests yet");
    fillTable("slow-rows", snap.slow_requests || [], (s) => {
      const tr = document.createElement("tr");
      cell(tr, new Date(s.at * 1000).toLocaleTimeString("en-GB"));
      cell(tr, `${s.method} ${s.path}`, "id").title = `${s.route}\nServer-Timing: ${s.server_timing}`;
      cell(tr, s.status, "num"); cell(tr, fmt(s.total_ms), "num"); cell(tr, fmt(s.db_ms), "num");
      cell(tr, fmt(s.cache_ms), "num"); cell(tr, fmt(s.app_ms), "num"); cell(tr, s.request_id, "id");
      return tr;
    }, snap.slow_unavailable ? `Unavailable: ${snap.slow_unavailable}` : "No slow request yet");
    fillTable("queries", snap.database.slowest, (q) => {
      const tr = document.createElement("tr");
      cell(tr, q.query, "id"); cell(tr, fmt(q.mean_ms), "num"); cell(tr, fmt(q.count), "num");
      return tr;
    }, "No queries yet");
    fillTable("fleet-rows", snap.fleet || [], (f) => {
      const tr = document.createElement("tr");
      cell(tr, f.process); cell(tr, f.live, "num"); cell(tr, f.desired, "num"); cell(tr, f.direction);
      cell(tr, f.reason, "reason");
      cell(tr, f.cooldown_until ? new Date(f.cooldown_until * 1000).toLocaleTimeString("en-GB") : "–");
      return tr;
    }, "No decision yet");
    fillTable("cost-rows", Object.entries(snap.cost.components), ([name, usd]) => {
      const tr = document.createElement("tr");
      cell(tr, name); cell(tr, fmt(usd), "num");
      return tr;
    }, "No prices set");
    const breakers = Object.entries(snap.cache.breakers || {});
    $("breakers").textContent = breakers.length ? breakers.map(([n, s]) => `${n} ${s}`).join(", ") : "none reported";
    $("unavailable").textContent = snap.unavailable ? `Lists unavailable: ${snap.unavailable}` : "";
    $("history-from").textContent = snap.history_from === "prometheus"
      ? "The charts' hour: read from Prometheus" : "The charts' hour: kept by Folio (10 s points)";
    window.FolioQueue.render(snap);
  }

  async function act(url, done) {
    const r = await call("POST", url);
    $("notice").textContent = r.ok ? done : problemText(r.body, `The action failed (${r.status})`);
    loadAudit();
  }

  async function loadAudit(event) {
    if (event) event.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData($("audit-form"))) if (String(v).trim()) params.set(k, String(v).trim());
    const r = await call("GET", `/console/audit?${params}`);
    if (!r.ok) { $("notice").textContent = problemText(r.body, "The audit log is unavailable"); return; }
    fillTable("audit-rows", r.body.items, (e) => {
      const tr = document.createElement("tr");
      cell(tr, new Date(e.at).toISOString().replace("T", " ").slice(0, 19)); cell(tr, e.actor, "id");
      cell(tr, e.action, "id"); cell(tr, e.target, "id");
      return tr;
    }, "No entries");
  }

  // --- live events, paused while the tab is hidden ------------------------------------------------
  function setLive(text, on) { $("live").textContent = text; $("live").classList.toggle("on", on); }

  function connect() {
    if (state.events || !state.session || document.hidden) return;
    const source = new EventSource("/console/events");
    state.events = source;
    source.addEventListener("history", (e) => { state.history = JSON.parse(e.data); drawCharts(); });
    source.addEventListener("snapshot", (e) => {
      const snap = JSON.parse(e.data);
      state.history.push(snap.point);
      if (state.history.length > 2000) state.history.splice(0, state.history.length - 2000);
      render(snap);
      drawCharts();
      setLive("Live · updated " + new Date(snap.at * 1000).toLocaleTimeString("en-GB"), true);
    });
    source.addEventListener("expired", () => { disconnect(); showSignIn("Your session has expired: sign in again."); });
    source.onerror = () => setLive("Reconnecting…", false);
  }

  function disconnect() {
    if (state.events) { state.events.close(); state.events = null; }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { disconnect(); setLive("Paused while hidden", false); } else connect();
  });

  // --- sign-in and sign-out ---------------------------------------------------------------------
  function showSignIn(message) {
    state.session = null;
    disconnect();
    setLive("Signed out", false);
    $("who").hidden = true; $("nav").hidden = true; $("main").hidden = true; $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  function showConsole(session) {
    state.session = session;
    $("operator").textContent = session.operator;
    $("role").textContent = session.role === "admin" ? "admin" : "read-only";
    $("sign-in").hidden = true; $("who").hidden = false; $("nav").hidden = false; $("main").hidden = false;
    setLive("Connecting…", false);
    connect();
    loadAudit();
  }

  async function signIn(event) {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    const r = await call("POST", "/console/session", { token: $("token").value });
    if (r.ok) { $("token").value = ""; showConsole(r.body); $("main").focus({ preventScroll: true }); }
    else showSignIn(problemText(r.body, `Sign-in failed (${r.status})`));
  }

  // The identity provider's button, when the console signs in through one; a sign-in through it that ended
  // back here says why in `?sign_in_error=`, which the server turns into a message (and the address drops).
  async function showProvider() {
    const reason = new URLSearchParams(location.search).get("sign_in_error");
    if (reason !== null) history.replaceState(null, "", location.pathname);
    const r = await call("GET", "/console/oidc" + (reason ? "?error=" + encodeURIComponent(reason) : ""));
    if (!r.ok || !r.body || !r.body.provider) return;
    $("oidc-provider").textContent = r.body.provider;
    $("oidc-sign-in").href = r.body.start_url;
    $("oidc").hidden = false;
    if (r.body.message && !state.session) $("sign-in-error").textContent = r.body.message;
  }

  async function signOut() {
    await call("DELETE", "/console/session");
    showSignIn("Signed out.");
  }

  // The queue panel (queue.js, loaded after this file) uses these.
  window.FolioConsole = { $, state, call, fmt, cell, fillTable, problemText, act, loadAudit };

  document.addEventListener("DOMContentLoaded", async () => {
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOut);
    $("audit-form").addEventListener("submit", loadAudit);
    const r = await call("GET", "/console/session");
    if (r.ok) showConsole(r.body); else showSignIn("");
    await showProvider();
  });
})();
