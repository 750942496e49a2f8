"use strict";
const $ = (s) => document.querySelector(s);
const fmt = (n) => (n === null || n === undefined) ? "–" : Number(n).toLocaleString("en");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const colours = ["#58a6ff", "#3fb950", "#d29922", "#f778ba", "#a371f7", "#56d4dd"];
let selected = new Map();
let session = null;
let dlqRegency = null;  // a regency code: the DLQ browser shows that regency's rejections only (#dlq-<code>)

async function api(path, options = {}) {
  const r = await fetch(path, {credentials: "same-origin", ...options});
  if (r.status === 401) { location.href = "/login"; throw new Error("logged out"); }
  return r;
}

async function loadSession() {
  session = await (await api("/api/session")).json();
  $("#whoami").textContent = `${session.user} (${session.role})`;
  const operator = session.role === "operator";
  $("#replay-controls").hidden = !operator;
  $("#viewer-note").hidden = operator;
}

function line(points, max, colour) {
  if (points.length < 2) return "";
  const step = 600 / (points.length - 1);
  const d = points.map((v, i) => `${(i * step).toFixed(1)},${(155 - (max ? v / max : 0) * 150).toFixed(1)}`).join(" ");
  return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${d}"/>`;
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${(seconds / 3600).toFixed(1)} h ago`;
}

function render(data) {
  const st = data.status;
  $("#updated").textContent = data.error ? `error: ${data.error}` : `updated ${new Date(data.served_at).toLocaleTimeString()}`;
  if (!st) return;
  $("#in-rate").textContent = fmt(st.throughput.in_per_s);
  $("#out-rate").textContent = fmt(st.throughput.out_per_s);
  $("#events-total").textContent = fmt(st.topics.filter((t) => t.role === "events").reduce((a, t) => a + t.records, 0));
  $("#lag-total").textContent = fmt(st.groups.reduce((a, g) => a + g.total_lag, 0));
  $("#dlq-total").textContent = fmt(st.dlq.total);
  const store = data.store || {};
  $("#alerts-hour").textContent = fmt(store.alerts_last_hour ?? 0);
  const fresh = new Map(st.freshness.map((f) => [f.regency_code, f]));
  const per = store.regencies || {};
  $("#regencies tbody").innerHTML = data.regencies.map((r) => {
    const f = fresh.get(r.code) || {}; const s = per[r.code] || {};
    const sla = (s.sla_met_pct === null || s.sla_met_pct === undefined) ? "–" : `${s.sla_met_pct.toFixed(1)}%`;
    return `<tr data-regency="${r.code}"><td>${r.code}</td><td>${esc(r.name)}</td>` +
      `<td class="${f.silent ? "silent" : "fresh"}">${ago(f.seconds_since)}</td>` +
      `<td>${fmt(s.events_today ?? 0)}</td><td>${sla}</td><td>${fmt(s.open_alerts ?? 0)}</td>` +
      `<td><a class="rejections" href="#dlq-${esc(r.code)}">DLQ</a></td></tr>`;
  }).join("");
  $("#alerts tbody").innerHTML = (store.recent_alerts || []).map((a) =>
    `<tr><td>${esc(new Date(a.raised_at).toLocaleString())}</td><td class="sev-${esc(a.severity)}">${esc(a.rule)}</td>` +
    `<td>${esc(a.regency_code)}</td><td>${esc(a.message)}</td></tr>`).join("") ||
    `<tr><td colspan="4" class="dim">no alerts in the store yet</td></tr>`;
  const groups = [...new Set(data.history.flatMap((h) => Object.keys(h.lag)))];
  const maxLag = Math.max(1, ...data.history.flatMap((h) => Object.values(h.lag)));
  $("#lag-chart").innerHTML = groups.map((g, i) => line(data.history.map((h) => h.lag[g] || 0), maxLag, colours[i % colours.length])).join("");
  $("#lag-legend").innerHTML = groups.map((g, i) => `<span class="lg${i % colours.length}">■ ${esc(g)}</span>`).join(" · ") + ` (max ${fmt(maxLag)})`;
  const maxTp = Math.max(1, ...data.history.flatMap((h) => [h.in_per_s, h.out_per_s]));
  $("#tp-chart").innerHTML = line(data.history.map((h) => h.in_per_s), maxTp, colours[0]) + line(data.history.map((h) => h.out_per_s), maxTp, colours[1]);
}

async function poll() {
  try {
    const r = await api("/api/overview");
    if (r.ok) render(await r.json());
  } catch (e) { $("#updated").textContent = "dashboard unreachable"; }
  setTimeout(poll, 2000);
}

function dlqFilterFromHash() {
  const m = /^#dlq-([0-9]{4})$/.exec(location.hash);
  dlqRegency = m ? m[1] : null;
  $("#dlq-filter").hidden = !dlqRegency;
  $("#dlq-filter-code").textContent = dlqRegency || "";
  selected.clear();
  if (dlqRegency) $("#dlq-panel").scrollIntoView();
}

async function loadDlq(again = true) {
  try {
    const want = dlqRegency;
    const r = await api("/api/dlq?limit=100" + (want ? `&regency=${encodeURIComponent(want)}` : ""));
    if (!r.ok) return;
    const rows = await r.json();
    if (want !== dlqRegency) return;  // the filter changed while this answer was on its way
    $("#dlq tbody").innerHTML = rows.map((d) =>
      `<tr data-id="${d.id}"><td><input type="checkbox" ${selected.has(d.id) ? "checked" : ""}></td>` +
      `<td>${esc(d.timestamp ? new Date(d.timestamp).toLocaleString() : "")}</td><td>${esc(d.reason)}</td>` +
      `<td>${esc(d.message)}</td><td>${esc(d.source_topic)}:${esc(d.source_partition)}:${esc(d.source_offset)}</td>` +
      `<td>${esc(d.event_type || "(does not decode)")}</td></tr>`).join("") ||
      `<tr><td colspan="6" class="dim">${dlqRegency ? "no rejections of this regency among the newest records" : "the DLQ is empty"}</td></tr>`;
    for (const tr of document.querySelectorAll("#dlq tbody tr[data-id]")) {
      const d = rows.find((x) => x.id === tr.dataset.id);
      tr.addEventListener("click", (ev) => {
        const box = tr.querySelector("input"); if (ev.target !== box) box.checked = !box.checked;
        if (box.checked) selected.set(d.id, d); else selected.delete(d.id);
        tr.classList.toggle("sel", box.checked);
        $("#dlq-payload").value = d.payload ? JSON.stringify({event_type: d.event_type, ...d.payload}, null, 2) : "";
      });
    }
  } catch (e) { /* shown by the overview poll */ } finally {
    if (again) setTimeout(loadDlq, 5000);
  }
}

async function replay(fixed) {
  const items = [...selected.values()].map((d) => ({partition: d.partition, offset: d.offset,
    fixed: fixed ? JSON.parse($("#dlq-payload").value) : null}));
  if (!items.length) { $("#replay-result").textContent = "select a record first"; return; }
  const r = await api("/api/dlq/replay", {method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": session.csrf_token},
    body: JSON.stringify({records: fixed ? items.slice(0, 1) : items})});
  const body = await r.json();
  $("#replay-result").textContent = r.ok ? `replayed ${body.length} record(s)` : `refused: ${body.detail}`;
  if (r.ok) selected.clear();
  loadAudit(false);
}

async function loadAudit(again = true) {
  try {
    const r = await api("/api/audit?limit=50");
    if (r.ok) {
      const rows = await r.json();
      $("#audit tbody").innerHTML = rows.map((a) =>
        `<tr><td>${esc(new Date(a.at).toLocaleString())}</td><td>${esc(a.actor)}</td><td>${esc(a.role)}</td>` +
        `<td>${esc(a.action)}</td><td>${esc(a.target)}</td><td class="res-${esc(a.result)}">${esc(a.result)}</td>` +
        `<td>${esc(a.detail)}</td><td>${a.published ? "yes" : "pending"}</td></tr>`).join("") ||
        `<tr><td colspan="8" class="dim">no ops actions recorded yet</td></tr>`;
    }
  } catch (e) { /* shown by the overview poll */ }
  if (again) setTimeout(loadAudit, 5000);
}

async function logout() {
  await api("/logout", {method: "POST", headers: {"X-CSRF-Token": session.csrf_token}});
  location.href = "/login";
}
$("#replay-asis").addEventListener("click", () => replay(false));
$("#replay-fixed").addEventListener("click", () => replay(true));
$("#logout").addEventListener("click", logout);
window.addEventListener("hashchange", () => { dlqFilterFromHash(); loadDlq(false); });
dlqFilterFromHash();
loadSession().then(() => { poll(); loadDlq(); loadAudit(); });
