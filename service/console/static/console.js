// The DiffMix Lab console. Each page is a shell; this script signs in with an API key kept in sessionStorage,
// calls the REST API with it as the Bearer header (never in a URL), and shows what the key's role may see.
"use strict";

const KEY = "diffmix-key";
const POLL_MS = 2000;
// what chose a proposal (model.optimize.proposals.Source), for the queue's tooltip
const SOURCE_HELP = {
  exploit: "the campaign posterior's best mean", explore: "its upper confidence bound",
  "prior-free": "a GP that knows nothing of DiffMix: so a region DiffMix is sure of is still tried",
  "space-filling": "far from every other point (the first batch)", gradient: "DiffMix's gradient ascent",
  botorch: "the plain BoTorch loop", random: "drawn at random",
};
const K0 = 273.15;
let ROLE = null;

// ------------------------------------------------------------------ small helpers
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const $ = (sel) => document.querySelector(sel);
const fmt = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
const bothT = (K) => `${fmt(K - K0, 1)} °C (${fmt(K, 2)} K)`;

function showError(msg) {
  const box = $("#error");
  if (!msg) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = msg;
  box.hidden = false;
}

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try { r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }); }
  catch (e) { throw new ApiError(0, `the service is unreachable (${e.message})`); }
  if (r.status === 401) {
    sessionStorage.removeItem(KEY);
    location.assign(`/signin?next=${encodeURIComponent(location.pathname)}`);
    throw new ApiError(401, "signed out");
  }
  if (!r.ok) {
    let detail = `${r.status} ${r.statusText}`;
    try { const j = await r.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  if (r.status === 204) return null;
  const type = r.headers.get("content-type") || "";
  return type.includes("json") ? r.json() : r.text();
}

function applyRole(role) {
  ROLE = role;
  for (const e of document.querySelectorAll("[data-roles]")) {
    e.hidden = !e.dataset.roles.split(" ").includes(role);
  }
}

let SPECIES = null;
async function species() {
  if (!SPECIES) SPECIES = await api("GET", "/v1/species");
  return SPECIES;
}
function nameOf(smiles) {
  const s = (SPECIES || []).find((x) => x.smiles === smiles);
  return s ? s.name : smiles;
}

// ------------------------------------------------------------------ pages
const PAGES = {};

PAGES.signin = async () => {
  $("#signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = $("#key").value.trim();
    sessionStorage.setItem(KEY, key);
    const r = await fetch("/v1/whoami", { headers: { Authorization: `Bearer ${key}` } });
    if (!r.ok) {
      sessionStorage.removeItem(KEY);
      let detail = "the key was not accepted";
      try { detail = (await r.json()).detail; } catch (_) { /* not JSON */ }
      showError(`${detail}. Check the key, and that it has not been revoked.`);
      return;
    }
    const me = await r.json();
    const next = new URLSearchParams(location.search).get("next");
    location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : me.role === "robot" ? "/lab" : "/");
  });
};

PAGES.campaigns = async () => {
  const render = async () => {
    const status = $("#status-filter").value;
    const list = await api("GET", `/v1/campaigns${status ? `?status=${status}` : ""}`);
    const body = $("#campaigns tbody");
    body.replaceChildren();
    $("#campaigns-empty").hidden = list.length > 0;
    for (const c of list) {
      const n = c.counts || {};
      const used = (n.measured || 0) + (n.queued || 0) + (n.leased || 0);
      const best = c.best;
      const lab = c.lab && c.lab.declared ? (c.lab.can_make.length ? `made by ${c.lab.can_make.join(", ")}` : "no robot can make it") : "stocks not declared";
      const act = (a) => el("button", { class: "small secondary", text: a, "data-action": a,
        onclick: async () => { try { await api("POST", `/v1/campaigns/${c.id}/${a}`); await render(); } catch (e) { showError(e.message); } } });
      body.append(el("tr", { "data-id": c.id },
        el("td", { text: c.id }),
        el("td", {}, el("a", { href: `/campaigns/${c.id}`, text: c.name })),
        el("td", {}, el("span", { class: `badge ${c.status}`, text: c.status })),
        el("td", { text: c.strategy }),
        el("td", { text: `${used} / ${c.budget} (${n.measured || 0} measured)` }),
        el("td", { text: best ? `${fmt(best.measured)} mS/cm (#${best.experiment_id})` : "–" }),
        el("td", { class: "muted", text: lab }),
        el("td", { text: when(c.created_at) }),
        el("td", { "data-roles": "operator admin", hidden: !["operator", "admin"].includes(ROLE) },
          c.status === "active" ? [act("pause"), act("cancel")] : c.status === "paused" ? [act("resume"), act("cancel")] : [])));
    }
  };
  $("#status-filter").addEventListener("change", () => render().catch((e) => showError(e.message)));
  await render();
};

// ------------------------------------------------------------------ new campaign
function structureImg(input) {
  const img = document.getElementById(input.dataset.structure);
  // the drawing's box keeps its place while empty, so the form does not jump under the pointer
  const update = () => {
    const v = input.value.trim();
    img.style.visibility = v ? "visible" : "hidden";
    if (v) img.src = `/v1/structure.svg?smiles=${encodeURIComponent(v)}`;
    img.title = v;
  };
  input.addEventListener("change", update);
  img.addEventListener("error", () => { img.style.visibility = "hidden"; });
  update();
}

let solventRow = 0;
function addSolvent(name = "", lo = 0, hi = 1) {
  const id = `solvent-structure-${solventRow++}`;
  const input = el("input", { name: "solvent", list: "solvent-names", required: true, value: name, placeholder: "EC or a SMILES",
    "data-structure": id });
  const tr = el("tr", {},
    el("td", {}, input),
    el("td", {}, el("img", { id, class: "structure small", alt: "" })),
    el("td", {}, el("input", { name: "lower", type: "number", step: "any", min: 0, max: 1, value: lo })),
    el("td", {}, el("input", { name: "upper", type: "number", step: "any", min: 0, max: 1, value: hi })),
    el("td", {}, el("button", { type: "button", class: "small secondary", text: "remove", onclick: () => tr.remove() })));
  $("#solvents tbody").append(tr);
  structureImg(input);
}

PAGES["campaign-new"] = async () => {
  const sp = await species();
  $("#salts").replaceChildren(...sp.filter((s) => s.kind === "salt").map((s) => el("option", { value: s.name, text: s.note })));
  $("#solvent-names").replaceChildren(...sp.filter((s) => s.kind === "solvent").map((s) => el("option", { value: s.name, text: s.note })));
  const form = $("#campaign-form");
  structureImg(form.salt);
  for (const [n, hi] of [["EC", 0.6], ["DMC", 1], ["EMC", 1]]) addSolvent(n, 0, hi);
  $("#add-solvent").addEventListener("click", () => addSolvent());
  const temp = () => {
    const v = Number(form.temperature.value);
    const K = form.temperature_unit.value === "C" ? v + K0 : v;
    $("#temperature-both").textContent = Number.isFinite(v) ? `= ${bothT(K)}` : "";
  };
  const saltMode = () => { document.querySelector(".salt-hi").hidden = !form.salt_mode.value.endsWith("_range"); };
  form.temperature.addEventListener("input", temp);
  form.temperature_unit.addEventListener("change", temp);
  form.salt_mode.addEventListener("change", saltMode);
  temp(); saltMode();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(null);
    const rows = [...document.querySelectorAll("#solvents tbody tr")];
    const space = {
      salt: form.salt.value.trim(),
      solvents: rows.map((r) => r.querySelector("[name=solvent]").value.trim()),
      bounds_basis: form.bounds_basis.value,
      lower: rows.map((r) => Number(r.querySelector("[name=lower]").value)),
      upper: rows.map((r) => Number(r.querySelector("[name=upper]").value)),
    };
    const mode = form.salt_mode.value;
    space[mode] = mode.endsWith("_range") ? [Number(form.salt_lo.value), Number(form.salt_hi.value)] : Number(form.salt_lo.value);
    const T = Number(form.temperature.value);
    const body = { name: form.name.value.trim(), space, budget: Number(form.budget.value), strategy: form.strategy.value,
      temperature_K: form.temperature_unit.value === "C" ? T + K0 : T, objective: { maximize: !form.minimize.checked } };
    try {
      const c = await api("POST", "/v1/campaigns", body);
      location.assign(`/campaigns/${c.id}`);
    } catch (e) { showError(`The campaign was not created: ${e.message}`); }
  });
};

// ------------------------------------------------------------------ one campaign, live
const SCALE = "Viridis";

function landscapeTraces(land) {
  const names = land.solvents.map((s) => s.name);
  const basis = land.basis === "mass" ? "mass" : "mole";
  const measured = land.measured;
  const all = [...land.value, ...measured.map((m) => m.measured)];
  const cmin = Math.min(...all), cmax = Math.max(...all);
  const colour = { colorscale: SCALE, cmin, cmax };
  const saltAxis = `${land.salt.name} ${land.salt.variable.replace("_", " ")} (${land.salt.unit})`;
  const title = `κ at ${bothT(land.temperature_K)} — posterior (DiffMix + this campaign's ${measured.length} measurements)`;
  if (land.kind === "ternary") {
    // each axis is titled at the corner where that solvent is 100 % of the blend: its share grows toward it
    const axis = (i) => ({ title: { text: `<b>${names[i]}</b> 100 %`, font: { size: 12 } }, min: 0, ticksuffix: "" });
    const grid = { type: "scatterternary", mode: "markers", name: "posterior κ", a: land.points.map((p) => p[0]),
      b: land.points.map((p) => p[1]), c: land.points.map((p) => p[2]),
      marker: { ...colour, color: land.value, size: 7, symbol: "hexagon", showscale: true, colorbar: { title: { text: "κ (mS/cm)" } } },
      text: land.value.map((v, i) => `κ ${fmt(v)} ± ${fmt(land.std[i])} mS/cm`), hoverinfo: "text" };
    const pts = { type: "scatterternary", mode: "markers", name: "measured", a: measured.map((m) => m.z[0]),
      b: measured.map((m) => m.z[1]), c: measured.map((m) => m.z[2]),
      marker: { ...colour, color: measured.map((m) => m.measured), size: 13, line: { color: "black", width: 2 } },
      text: measured.map((m) => `#${m.experiment_id}: measured ${fmt(m.measured)} mS/cm`), hoverinfo: "text" };
    const pend = { type: "scatterternary", mode: "markers", name: "pending", a: land.pending.map((p) => p.z[0]),
      b: land.pending.map((p) => p.z[1]), c: land.pending.map((p) => p.z[2]),
      marker: { symbol: "x-thin", size: 12, line: { color: "crimson", width: 2 } },
      text: land.pending.map((p) => `#${p.experiment_id} ${p.status}`), hoverinfo: "text" };
    return { data: [grid, pts, pend], layout: { title: { text: `${title}<br><sub>shares of the solvent blend by ${basis}</sub>`, font: { size: 13 } },
      margin: { t: 90, l: 70, r: 40, b: 60 },
      ternary: { sum: 1, aaxis: axis(0), baxis: axis(1), caxis: axis(2) }, legend: { orientation: "h", y: -0.12 } } };
  }
  const x = (z) => (land.kind === "salt" ? z[land.solvents.length] : z[0]);
  const xtitle = land.kind === "salt" ? saltAxis : `${names[0]} (${basis} share of the solvent blend; rest ${names[1]})`;
  const xs = land.points.map(x);
  const upper = land.value.map((v, i) => v + 2 * land.std[i]);
  const lower = land.value.map((v, i) => v - 2 * land.std[i]);
  const data = [
    { x: xs, y: upper, mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
    { x: xs, y: lower, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(68,1,84,0.15)", name: "±2σ band" },
    { x: xs, y: land.value, mode: "lines", name: "posterior κ", line: { color: "#3b528b" } },
    { x: measured.map((m) => x(m.z)), y: measured.map((m) => m.measured), mode: "markers", name: "measured",
      marker: { ...colour, color: measured.map((m) => m.measured), size: 11, line: { color: "black", width: 1.5 } } },
  ];
  return { data, layout: { title: { text: title, font: { size: 13 } }, xaxis: { title: { text: xtitle } },
    yaxis: { title: { text: "κ (mS/cm)" } }, legend: { orientation: "h" } } };
}

function parity(results) {
  const p = results.map((r) => r.predicted), m = results.map((r) => r.measured);
  const res = results.map((r) => r.residual);
  const mae = res.length ? res.reduce((a, b) => a + Math.abs(b), 0) / res.length : null;
  const bias = res.length ? -res.reduce((a, b) => a + b, 0) / res.length : null;  // predicted − measured
  const lo = Math.min(...p, ...m, 0), hi = 1.15 * Math.max(...p, ...m, 1);  // long error bars run off the axes
  return { data: [
    { x: [lo, hi], y: [lo, hi], mode: "lines", name: "y = x", line: { dash: "dot", color: "grey" } },
    { x: m, y: p, mode: "markers", name: "experiments", error_y: { type: "data", array: results.map((r) => 2 * r.predicted_std), visible: true },
      text: results.map((r) => `#${r.experiment_id}`), marker: { size: 9, color: "#21918c" } }],
    layout: { title: { text: "Predicted (when proposed, ±2σ) vs measured", font: { size: 13 } },
      xaxis: { title: { text: "measured κ (mS/cm)" }, range: [lo, hi] }, yaxis: { title: { text: "predicted κ (mS/cm)" }, range: [lo, hi] },
      showlegend: false,
      annotations: [{ xref: "paper", yref: "paper", x: 0.02, y: 0.98, showarrow: false, align: "left",
        text: res.length ? `MAE ${fmt(mae)} mS/cm<br>bias ${fmt(bias)} mS/cm (n = ${res.length})` : "no measurements yet" }] } };
}

function bestSoFar(results, maximize) {
  let best = null;
  const ys = results.map((r) => { best = best === null ? r.measured : maximize ? Math.max(best, r.measured) : Math.min(best, r.measured); return best; });
  return { data: [
    { x: results.map((_, i) => i + 1), y: results.map((r) => r.measured), mode: "markers", name: "measured", marker: { color: "#5ec962" } },
    { x: results.map((_, i) => i + 1), y: ys, mode: "lines", line: { shape: "hv", color: "#440154" }, name: "best so far" }],
    layout: { title: { text: `Best so far (${maximize ? "max" : "min"} κ) vs experiment`, font: { size: 13 } },
      xaxis: { title: { text: "measured experiment" }, dtick: 1 }, yaxis: { title: { text: "κ (mS/cm)" } },
      margin: { t: 50, l: 55, r: 20, b: 95 }, legend: { orientation: "h", x: 0, y: -0.3 } } };
}

const PLOT_CONFIG = { displaylogo: false, responsive: true };
function plot(id, fig) {
  if (!window.Plotly) return;
  window.Plotly.react(id, fig.data, { margin: { t: 50, l: 55, r: 20, b: 50 }, ...fig.layout }, PLOT_CONFIG);
}

function leaseLeft(iso) {
  if (!iso) return "";
  const s = Math.round((new Date(iso) - Date.now()) / 1000);
  return s >= 0 ? `${s} s left` : `expired ${-s} s ago`;
}

PAGES.campaign = async () => {
  await species();
  const id = Number(location.pathname.split("/").pop());
  let lastMeasured = -1, lastPending = -1;
  const can = () => ["operator", "admin"].includes(ROLE);
  const act = (name) => $(`#${name}`).addEventListener("click", async () => {
    showError(null);
    try { await api("POST", `/v1/campaigns/${id}/${name}`); await refresh(true); } catch (e) { showError(e.message); }
  });
  ["pause", "resume", "cancel"].forEach(act);
  $("#propose").addEventListener("click", async () => {
    showError(null);
    const btn = $("#propose");
    btn.disabled = true; btn.textContent = "Proposing…";
    const asked = Number($("#propose-n").value) || 4;
    try {
      const queued = await api("POST", `/v1/campaigns/${id}/proposals?n=${asked}`);
      // fewer than asked (the budget, or no more distinct points): say so rather than queue quietly
      if (queued.length < asked) showError(`queued ${queued.length} of the ${asked} asked: the campaign's budget or its space had no room for more`);
      await refresh(true);
    }
    catch (e) { showError(e.message); }
    finally { btn.disabled = false; btn.textContent = "Propose"; }
  });

  const c0 = await api("GET", `/v1/campaigns/${id}`);
  $("#campaign-title").textContent = `#${c0.id} ${c0.name}`;
  document.title = `${c0.name} · DiffMix Lab`;
  const sp = c0.space;
  const salt = sp.salt_molality_range ? `${nameOf(sp.salt)} ${sp.salt_molality_range[0]}–${sp.salt_molality_range[1]} mol/kg`
    : sp.salt_molality ? `${nameOf(sp.salt)} ${sp.salt_molality} mol/kg`
    : sp.salt_fraction_range ? `${nameOf(sp.salt)} cation fraction ${sp.salt_fraction_range[0]}–${sp.salt_fraction_range[1]}`
    : `${nameOf(sp.salt)}: cation fraction ${sp.salt_fraction}`;
  const T = c0.temperature_K ? bothT(c0.temperature_K) : "several temperatures";
  $("#campaign-design").textContent = `${salt} in ${sp.solvents.map(nameOf).join(", ")} (bounds by ${sp.bounds_basis} share) · ${T} · `
    + `strategy ${c0.strategy} · budget ${c0.budget} · ${c0.objective && c0.objective.maximize === false ? "minimise" : "maximise"} κ`;
  const warn = [...((c0.domain && c0.domain.reasons) || []).map((r) => `outside the model's domain: ${r}`), ...((c0.lab && c0.lab.warnings) || [])];
  if (c0.lab && c0.lab.declared && !c0.lab.can_make.length) warn.push(`no robot can make this campaign: ${JSON.stringify(c0.lab.missing)}`);
  $("#campaign-warnings").replaceChildren(...warn.map((w) => el("p", { class: "warning", text: w })));

  let results = [];
  async function refresh(force) {
    const [c, exps, robots] = await Promise.all([api("GET", `/v1/campaigns/${id}/summary`), api("GET", `/v1/campaigns/${id}/experiments`),
      api("GET", "/v1/robots")]);
    // the results (an audited export) are read again only when a measurement has arrived
    if (force || c.measured !== results.length) results = await api("GET", `/v1/results?campaign=${id}`);
    const leasedBy = {};
    for (const r of robots) for (const l of r.leases) leasedBy[l.experiment_id] = r.name || `robot ${r.key_id}`;
    const st = $("#campaign-status");
    st.textContent = c.status; st.className = `badge ${c.status}`;
    if (can()) {
      $("#pause").hidden = c.status !== "active"; $("#resume").hidden = c.status !== "paused";
      $("#cancel").hidden = !["active", "paused"].includes(c.status);
      $("#propose").disabled = c.status !== "active";
    }
    const n = c.counts || {};
    $("#campaign-stats").replaceChildren(
      ...[["queued", n.queued || 0], ["leased", n.leased || 0], ["measured", n.measured || 0], ["failed", n.failed || 0],
        ["best measured", c.best ? `${fmt(c.best.measured)} mS/cm` : "–"], ["MAE", c.mae === null ? "–" : `${fmt(c.mae)} mS/cm`]]
        .map(([k, v]) => el("div", { class: "stat", "data-stat": k }, el("span", { class: "muted", text: k }), el("strong", { text: v }))));
    const body = $("#queue tbody");
    const rows = exps.map((e) => {
      const lab = e.lab;
      const m = results.find((r) => r.experiment_id === e.id);
      const robot = e.status === "leased" ? `${leasedBy[e.id] || "?"} · ${leaseLeft(e.lease_expires_at)}` : "";
      return el("tr", { "data-id": e.id, "data-status": e.status },
        el("td", { text: e.id }), el("td", { text: e.batch }),
        el("td", {}, el("span", { class: `badge ${e.status}`, text: e.status })),
        el("td", { class: "source", text: e.source || "–", title: SOURCE_HELP[e.source] || "" }),
        el("td", { text: lab.text, title: lab.solvents.map((s) => `${s.name} ${s.smiles}: mass ${fmt(s.mass_fraction, 3)}, mole ${fmt(s.mole_fraction, 3)}`).join("\n") }),
        el("td", { text: `${lab.cation_fraction_text} · ${fmt(lab.salt.molality_mol_kg)} mol/kg · ${lab.salt.molarity_mol_L === null ? "–" : fmt(lab.salt.molarity_mol_L)} mol/L`,
          title: lab.salt.molarity_note }),
        el("td", { text: bothT(e.temperature_K) }),
        el("td", { text: `${fmt(e.predicted)} ± ${fmt(e.predicted_std)}` }),
        el("td", { class: "measured", text: m ? fmt(m.measured) : "–" }),
        el("td", { text: robot }),
        el("td", { class: "muted", text: e.failure_reason || (m && m.quality_flags.length ? m.quality_flags.join("; ") : "") }));
    });
    body.replaceChildren(...rows.reverse());
    const pending = (n.queued || 0) + (n.leased || 0);
    if (force || results.length !== lastMeasured || pending !== lastPending) {
      lastMeasured = results.length; lastPending = pending;
      const [land, model] = await Promise.all([api("GET", `/v1/campaigns/${id}/landscape`), api("GET", `/v1/campaigns/${id}/model`)]);
      if (land.kind !== "none") plot("landscape-plot", landscapeTraces(land));
      else $("#landscape-plot").replaceChildren(el("p", { class: "muted", text: `A landscape shows three solvents, two, or a salt scan; this space has ${land.solvents.length} free solvents.` }));
      plot("parity-plot", parity(results));
      plot("best-plot", bestSoFar(results, !(c0.objective && c0.objective.maximize === false)));
      const d = model.diagnostics || {};
      const ev = model.evidence || {};
      $("#diagnostics").replaceChildren(
        el("p", { id: "evidence", class: ev.disagrees ? "evidence disagrees" : "evidence", "data-disagrees": String(!!ev.disagrees),
          text: ev.summary || "" }),
        el("p", { text: `Posterior version ${model.version_id} on ${d.n || 0} measurements (parent checkpoint ${model.parent_id}); `
          + `leave-one-out MAE ${fmt(d.loo_mae)} mS/cm; 2σ coverage ${d.coverage_2sigma === undefined || d.coverage_2sigma === null ? "–" : `${fmt(100 * d.coverage_2sigma, 0)} %`}.` }),
        el("table", { class: "grid compact" }, el("thead", {}, el("tr", {}, ["batch", "n", "MAE of proposals (mS/cm)"].map((h) => el("th", { text: h })))),
          el("tbody", {}, (model.batches || []).map((b) => el("tr", {}, el("td", { text: b.batch }), el("td", { text: b.measured }), el("td", { text: fmt(b.mae) }))))));
      document.body.dataset.measured = String(results.length);
    }
  }
  await refresh(true);
  poll(() => refresh(false));
};

// Keep a page live: call `update` every POLL_MS; while the service does not answer, say so in a banner (since when),
// disable the page's actions and try again with a doubling wait (up to 30 s); when it answers, undo all of that.
function poll(update) {
  const live = $("#live");
  let down = null, wait = POLL_MS;
  const banner = $("#offline");
  const tick = async () => {
    try {
      await update();
      if (down) {
        down = null; wait = POLL_MS;
        banner.hidden = true;
        document.querySelectorAll("main [data-offline-disabled]").forEach((x) => { x.disabled = false; x.removeAttribute("data-offline-disabled"); });
        document.body.dataset.offline = "false";
      }
      if (live) { live.classList.remove("stale"); live.textContent = "live"; }
    } catch (e) {
      if (e.status !== undefined && e.status !== 0 && e.status < 500) throw e;  // an answer, not an outage
      if (!down) {
        down = new Date();
        document.querySelectorAll("main button:not([disabled])").forEach((x) => { x.disabled = true; x.setAttribute("data-offline-disabled", ""); });
        document.body.dataset.offline = "true";
      }
      wait = Math.min(2 * wait, 30000);
      banner.textContent = `The service is unreachable since ${down.toLocaleTimeString()}; trying again in ${Math.round(wait / 1000)} s. Actions are off until it answers.`;
      banner.hidden = false;
      if (live) { live.classList.add("stale"); live.textContent = "offline"; }
    }
    setTimeout(tick, down ? wait : POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

// ------------------------------------------------------------------ lab
PAGES.lab = async () => {
  await species();
  const [robots, campaigns, cals] = await Promise.all([api("GET", "/v1/robots").catch(() => []),
    api("GET", "/v1/campaigns").catch(() => []), api("GET", "/v1/calibrations")]);
  const makes = (name) => campaigns.filter((c) => c.lab && c.lab.can_make.includes(name) && ["active", "paused"].includes(c.status));
  $("#robots tbody").replaceChildren(...robots.map((r) => {
    const name = r.name || `robot ${r.key_id}`;
    const current = r.leases.map((l) => `#${l.experiment_id} (campaign ${l.campaign_id}, ${leaseLeft(l.lease_expires_at)})`).join(", ");
    return el("tr", {}, el("td", { text: name + (r.revoked ? " (revoked)" : "") }), el("td", { text: when(r.last_seen_at) }),
      el("td", { text: current || "idle" }), el("td", { text: r.stopped_reason ? `stopped: ${r.stopped_reason}` : "working" }),
      el("td", { text: Object.entries(r.vessels).map(([k, v]) => `${k} ${v}`).join(", ") || "–" }),
      el("td", {}, r.stocks === null ? "stocks not declared" : makes(name).map((c) => el("a", { href: `/campaigns/${c.id}`, class: "chip", text: `#${c.id} ${c.name}` }))));
  }));
  $("#stocks").replaceChildren(...robots.filter((r) => r.stocks).map((r) => el("div", {},
    el("h3", { text: r.name || `robot ${r.key_id}` }),
    el("table", { class: "grid compact stocks" }, el("thead", {}, el("tr", {}, ["Stock", "Solvent (mass fractions)", "Salt", "Molality (mol/kg)"].map((h) => el("th", { text: h })))),
      el("tbody", {}, r.stocks.map((s) => el("tr", {}, el("td", { text: s.name }),
        el("td", { text: Object.entries(s.solvent).map(([k, v]) => `${nameOf(k)} ${fmt(v, 2)}`).join(", "), title: Object.keys(s.solvent).join(", ") }),
        el("td", { text: s.salt ? nameOf(s.salt) : "–", title: s.salt || "" }), el("td", { text: s.salt ? fmt(s.molality) : "–" }))))))));
  if (!robots.some((r) => r.stocks)) $("#stocks").append(el("p", { class: "muted", text: "No robot has declared its stocks yet (a robot declares them when its agent starts)." }));
  $("#calibrations tbody").replaceChildren(...cals.map((c) => el("tr", {}, el("td", { text: c.cell_id }), el("td", { text: when(c.calibrated_at) }),
    el("td", { text: fmt(c.cell_constant_per_cm, 4) }), el("td", { text: fmt(c.standard_conductivity_mS_cm) }),
    el("td", { text: fmt(c.measured_resistance_ohm, 1) }), el("td", { text: bothT(c.temperature_K) }))));
};

// ------------------------------------------------------------------ results
PAGES.results = async () => {
  const rows = await api("GET", "/v1/results");
  const campaigns = [...new Map(rows.map((r) => [r.campaign_id, r.campaign])).entries()];
  $("#f-campaign").append(...campaigns.map(([id, name]) => el("option", { value: id, text: `#${id} ${name}` })));
  const render = () => {
    const cid = $("#f-campaign").value, text = $("#f-text").value.trim().toLowerCase();
    const tmin = $("#f-tmin").value === "" ? -Infinity : Number($("#f-tmin").value);
    const tmax = $("#f-tmax").value === "" ? Infinity : Number($("#f-tmax").value);
    const flagged = $("#f-flagged").checked;
    const keep = rows.filter((r) => (!cid || String(r.campaign_id) === cid) && r.temperature_C >= tmin && r.temperature_C <= tmax
      && (!flagged || r.quality_flags.length) && (!text || `${r.lab.text} ${r.campaign} ${r.quality_flags.join(" ")} ${r.lab.solvents.map((s) => s.smiles).join(" ")}`.toLowerCase().includes(text)));
    $("#results-count").textContent = `${keep.length} of ${rows.length} measured experiments`;
    $("#results tbody").replaceChildren(...keep.map((r) => el("tr", { "data-id": r.experiment_id },
      el("td", { text: r.experiment_id }), el("td", {}, el("a", { href: `/campaigns/${r.campaign_id}`, text: r.campaign })),
      el("td", { text: r.lab.text }),
      el("td", { text: r.lab.solvents.map((s) => `${s.name} ${fmt(s.mass_fraction, 3)}`).join(", "), title: r.lab.solvents.map((s) => s.smiles).join(", ") }),
      el("td", { text: fmt(r.lab.salt.molality_mol_kg, 3) }),
      el("td", { text: r.lab.salt.molarity_mol_L === null ? "–" : fmt(r.lab.salt.molarity_mol_L, 3), title: r.lab.salt.molarity_note }),
      el("td", { text: fmt(r.temperature_C, 1) }), el("td", { text: fmt(r.predicted) }), el("td", { text: fmt(r.predicted_std) }),
      el("td", { text: fmt(r.measured) }), el("td", { text: fmt(r.residual) }), el("td", { class: "muted", text: r.quality_flags.join("; ") }))));
  };
  for (const id of ["#f-campaign", "#f-text", "#f-tmin", "#f-tmax", "#f-flagged"]) $(id).addEventListener("input", render);
  render();
  $("#download-csv").addEventListener("click", async () => {
    const cid = $("#f-campaign").value;
    try {
      const text = await api("GET", `/v1/results?format=csv${cid ? `&campaign=${cid}` : ""}`);
      const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
      const a = el("a", { href: url, download: cid ? `diffmix-results-campaign-${cid}.csv` : "diffmix-results.csv" });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { showError(e.message); }
  });
};

// ------------------------------------------------------------------ admin
PAGES.admin = async () => {
  const render = async () => {
    const keys = await api("GET", "/v1/admin/keys");
    $("#keys tbody").replaceChildren(...keys.map((k) => el("tr", { "data-id": k.id }, el("td", { text: k.id }), el("td", { text: k.name }),
      el("td", { text: k.role }), el("td", {}, el("code", { text: `${k.prefix}…` })), el("td", { text: when(k.created_at) }),
      el("td", { text: when(k.revoked_at) }),
      el("td", {}, k.revoked_at ? "" : el("button", { class: "small danger", text: "revoke", onclick: async () => {
        if (!confirm(`Revoke key #${k.id} (${k.name || k.role})? Whoever uses it is locked out at once.`)) return;
        try { await api("DELETE", `/v1/admin/keys/${k.id}`); await render(); } catch (e) { showError(e.message); } } })))));
  };
  $("#key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      const k = await api("POST", "/v1/admin/keys", { role: f.role.value, name: f.name.value.trim() });
      f.reset();
      await render();  // the list first, so the key appears with its row already there
      $("#new-key-value").textContent = k.key;
      $("#new-key").hidden = false;
    } catch (e) { showError(e.message); }
  });
  await render();
};

// ------------------------------------------------------------------ start
async function start() {
  const page = document.body.dataset.page;
  if (page === "signin") { await PAGES.signin(); return; }
  if (!sessionStorage.getItem(KEY)) { location.assign(`/signin?next=${encodeURIComponent(location.pathname)}`); return; }
  const me = await api("GET", "/v1/whoami");
  $("#who").textContent = `${me.name || "key " + me.key_id} · ${me.role}`;
  $("#nav").hidden = false;
  $("#signout").hidden = false;
  $("#signout").addEventListener("click", () => { sessionStorage.removeItem(KEY); location.assign("/signin"); });
  applyRole(me.role);
  try { await PAGES[page](); } catch (e) {
    if (e.status === 403) showError(`Your key's role (${me.role}) may not see this page: ${e.message}`);
    else if (e.status !== 401) showError(e.message);
    if (e.status === 403 || e.status === 404) closePage(e.status === 404 ? "not found" : "not allowed");
  }
  document.body.dataset.ready = "true";
}
// A page whose subject is missing (404) or not this key's to see (403) offers nothing to do: its forms are hidden,
// its buttons disabled, and the live dot says why instead of staying green.
function closePage(why) {
  document.querySelectorAll("main form").forEach((f) => { f.hidden = true; });
  document.querySelectorAll("main button, main input, main select").forEach((x) => { x.disabled = true; });
  const live = $("#live");
  if (live) { live.classList.add("stale"); live.textContent = why; }
  document.body.dataset.closed = why;
}
document.addEventListener("DOMContentLoaded", () => { start().catch((e) => showError(e.message)); });
