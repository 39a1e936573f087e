// Folio console, the queue panel: per-actor lines, report processing (pause, resume), dead letters (filter,
// requeue, cancel, batch requeue) and dead webhook deliveries. Uses the helpers console.js exposes.
"use strict";
(function () {
  const { $, state, call, fmt, cell, fillTable, problemText, act, loadAudit } = window.FolioConsole;
  state.dead = null;  // the server's filtered dead letters while a filter is set

  function actionButton(label, name, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.setAttribute("aria-label", name);
    button.addEventListener("click", onClick);
    return button;
  }

  // Dead letters: the snapshot's (every 2 s) while no filter is set; the server's filtered list otherwise.
  function deadFilter() {
    const form = new FormData($("dead-form"));
    const params = new URLSearchParams();
    const actor = String(form.get("actor") || ""), reason = String(form.get("reason") || "").trim();
    const minutes = String(form.get("older_than_min") || "").trim();
    if (actor) params.set("actor", actor);
    if (reason) params.set("reason", reason);
    if (minutes) params.set("older_than_s", String(Number(minutes) * 60));
    return params;
  }

  async function loadDeadLetters(event) {
    if (event) event.preventDefault();
    const params = deadFilter();
    if (![...params.keys()].length) { state.dead = null; renderDeadLetters(); return; }
    const r = await call("GET", `/console/dead-letters?${params}`);
    if (!r.ok) { $("notice").textContent = problemText(r.body, "The dead letters are unavailable"); return; }
    state.dead = r.body.items;
    renderDeadLetters();
  }

  function age(finished) {
    if (!finished) return "–";
    const s = Math.max(0, (Date.now() - new Date(finished).getTime()) / 1000);
    return s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
  }

  function deadActions(td, r) {
    if (r.actor === "deliver_webhook") {
      const url = `/console/webhooks/${r.user_id}/${encodeURIComponent(r.endpoint_id)}/deliveries/${encodeURIComponent(r.id)}/redeliver`;
      td.appendChild(actionButton("Redeliver", `Redeliver delivery ${r.id}`, () => act(url, `Delivery ${r.id.slice(0, 12)} redelivered`)));
      return;
    }
    const base = `/console/reports/${encodeURIComponent(r.id)}`;
    td.appendChild(actionButton("Requeue", `Requeue report ${r.id}`, () => act(`${base}/requeue`, `Report ${r.id.slice(0, 8)} requeued`)));
    td.appendChild(actionButton("Cancel", `Cancel report ${r.id}`, () => act(`${base}/cancel`, `Report ${r.id.slice(0, 8)} cancelled`)));
  }

  function renderDeadLetters() {
    const filtered = state.dead !== null;
    if (!filtered && (!state.last || !state.last.dead_letters)) return;
    const rows = filtered ? state.dead : [...state.last.dead_letters, ...(state.last.dead_deliveries || [])];
    const admin = state.session && state.session.role === "admin";
    $("requeue-matching").hidden = !admin;
    fillTable("dead-letters", rows, (r) => {
      const tr = document.createElement("tr");
      cell(tr, r.actor, "id");
      cell(tr, r.id.slice(0, 8), "id").title = r.id;
      cell(tr, r.user_id, "num"); cell(tr, r.attempts, "num"); cell(tr, age(r.finished_at), "num");
      cell(tr, r.actor === "deliver_webhook" ? r.reason : r.error, "reason");
      const td = cell(tr, admin ? "" : "read-only", "act");
      if (admin) deadActions(td, r);
      return tr;
    }, filtered ? "No dead letter matches the filter" : "No dead letters");
  }

  async function requeueMatching() {
    const params = deadFilter();
    const body = {};
    if (params.get("reason")) body.reason = params.get("reason");
    if (params.get("older_than_s")) body.older_than_s = Number(params.get("older_than_s"));
    const what = Object.keys(body).length ? "every failed report that matches the filter" : "every failed report";
    if (!window.confirm(`Requeue ${what} (at most 500)?`)) return;
    const r = await call("POST", "/console/dead-letters/requeue", body);
    $("notice").textContent = r.ok ? `${r.body.requeued} reports requeued` : problemText(r.body, `The action failed (${r.status})`);
    loadAudit();
    loadDeadLetters();
  }

  function renderProcessing(snap) {
    const paused = snap.paused;
    const text = paused ? `Report processing: paused by ${paused.by} since ${new Date(paused.at).toLocaleTimeString("en-GB")}` : "Report processing: running";
    $("processing").textContent = text;
    $("processing").classList.toggle("paused", Boolean(paused));
    const button = $("pause");
    button.hidden = !(state.session && state.session.role === "admin") || snap.paused === undefined;
    button.textContent = paused ? "Resume report processing" : "Pause report processing";
    button.dataset.change = paused ? "resume" : "pause";
  }

  function renderActors(snap) {
    fillTable("actor-rows", snap.queue.actors || [], (a) => {
      const tr = document.createElement("tr");
      cell(tr, a.actor, "id"); cell(tr, a.queue); cell(tr, fmt(a.depth), "num"); cell(tr, fmt(a.oldest_age_s), "num");
      cell(tr, fmt(a.done_per_s), "num"); cell(tr, fmt(a.failed_per_s), "num"); cell(tr, fmt(a.done), "num");
      cell(tr, fmt(a.failed), "num");
      return tr;
    }, "No queues reported");
  }

  function renderDeadDeliveries() {
    if (!state.last || !state.last.dead_deliveries) return;
    const admin = state.session && state.session.role === "admin";
    fillTable("dead-deliveries", state.last.dead_deliveries, (d) => {
      const tr = document.createElement("tr");
      cell(tr, d.id.slice(0, 12), "id").title = d.id;
      cell(tr, d.user_id, "num"); cell(tr, d.event_type); cell(tr, d.attempts, "num"); cell(tr, d.reason, "reason");
      const td = cell(tr, admin ? "" : "read-only", "act");
      const url = `/console/webhooks/${d.user_id}/${encodeURIComponent(d.endpoint_id)}/deliveries/${encodeURIComponent(d.id)}/redeliver`;
      if (admin) td.appendChild(actionButton("Redeliver", `Redeliver delivery ${d.id}`, () => act(url, `Delivery ${d.id.slice(0, 12)} redelivered`)));
      return tr;
    }, "No dead deliveries");
  }

  function render(snap) {
    renderProcessing(snap);
    renderActors(snap);
    if (state.dead !== null) loadDeadLetters(); else renderDeadLetters();
    renderDeadDeliveries();
  }

  window.FolioQueue = { render };

  document.addEventListener("DOMContentLoaded", () => {
    $("dead-form").addEventListener("submit", loadDeadLetters);
    $("dead-clear").addEventListener("click", () => { $("dead-form").reset(); loadDeadLetters(); });
    $("requeue-matching").addEventListener("click", requeueMatching);
    $("pause").addEventListener("click", async () => {
      const change = $("pause").dataset.change;
      const r = await call("POST", `/console/processing/${change}`);
      $("notice").textContent = r.ok ? (r.body.paused ? "Report processing paused" : "Report processing resumed")
        : problemText(r.body, `The action failed (${r.status})`);
      loadAudit();
    });
  });
})();
