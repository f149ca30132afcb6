/* Anquan web page: plain JavaScript over the HTTP API, no build step.
   Views: ask (streamed answers with clickable citations), checklists, documents, inspections. */
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const state = {
  lang: localStorage.getItem("anquan.lang") ||
    ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en"),
  key: localStorage.getItem("anquan.key") || "",
  history: [],          // earlier questions of this conversation, for follow-ups
  checklist: null,      // the last checklist built (JSON)
  inspection: null,     // the inspection on screen
  jobs: {},             // upload jobs being polled
  documents: [],
};

/* -- language ------------------------------------------------------------------------ */
function t(key, vars) {
  const table = (window.I18N || {})[state.lang] || {};
  let s = table[key] ?? ((window.I18N || {}).en || {})[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace(`{${k}}`, v);
  return s;
}

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  for (const el of $$("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of $$("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of $$("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  $("#lang-toggle").textContent = state.lang === "zh" ? "EN" : "中文";
  if (state.checklist) renderChecklist(state.checklist);
  if (state.inspection) renderInspection(state.inspection);
  renderDocuments();
}

function translateTree(root) {
  for (const el of $$("[data-i18n]", root)) el.textContent = t(el.dataset.i18n);
  for (const el of $$("[data-i18n-placeholder]", root)) el.placeholder = t(el.dataset.i18nPlaceholder);
}

/* -- talking to the API -------------------------------------------------------------- */
class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code;
    this.details = err.details;
  }
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.key) h["Authorization"] = "Bearer " + state.key;
  return h;
}

async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: headers(opts.headers) };
  if (opts.json !== undefined) {
    init.body = JSON.stringify(opts.json);
    init.headers["Content-Type"] = "application/json";
  } else if (opts.body !== undefined) {
    init.body = opts.body;
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    if (res.status === 401) askForKey();
    throw new ApiError(res.status, body);
  }
  if (opts.raw) return res;
  const type = res.headers.get("content-type") || "";
  return type.includes("application/json") ? res.json() : res.text();
}

function toast(message, isError) {
  const el = $("#toast");
  el.textContent = message;
  el.classList.toggle("error", !!isError);
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, isError ? 6000 : 2500);
}

function setStatus(el, message, isError) {
  el.textContent = message || "";
  el.classList.toggle("error", !!isError);
}

function askForKey() {
  const dlg = $("#key-dialog");
  if (dlg.open) return;
  $("#key-input").value = state.key;
  dlg.showModal();
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  }[c]));
}

function label(c) {
  const page = c.page ? ` ${t("page")}${c.page}` : "";
  return `${c.title || c.source} ${c.locator || ""}${page}`.trim();
}

/* -- views --------------------------------------------------------------------------- */
function showView(name) {
  const known = ["ask", "checklists", "documents", "inspections"];
  if (!known.includes(name)) name = "ask";
  for (const v of $$(".view")) v.hidden = v.dataset.view !== name;
  for (const a of $$("#tabs a")) a.classList.toggle("active", a.dataset.tab === name);
  if (name === "documents") loadDocuments();
  if (name === "inspections") { loadInspections(); showChecklistForInspection(); }
}

/* -- the clause behind a citation ---------------------------------------------------- */
async function openClause(source, locator, quote) {
  const dlg = $("#clause-dialog");
  $("#clause-title").textContent = locator ? `${source} · ${locator}` : source;
  $("#clause-meta").textContent = t("loading");
  $("#clause-text").textContent = "";
  if (!dlg.open) dlg.showModal();
  try {
    const q = new URLSearchParams({ source, locator: locator || "" });
    const c = await api("/v1/clause?" + q);
    $("#clause-title").textContent = label(c);
    $("#clause-meta").textContent = [c.source, c.jurisdiction, c.doc_type, c.heading_path]
      .filter(Boolean).join(" · ");
    const text = esc(c.text);
    const needle = quote ? esc(quote.slice(0, 80)) : "";
    $("#clause-text").innerHTML = needle && text.includes(needle)
      ? text.replace(needle, `<mark>${needle}</mark>`) : text;
  } catch (err) {
    $("#clause-meta").textContent = "";
    $("#clause-text").textContent = quote || err.message;
    if (!quote) $("#clause-text").classList.add("error");
  }
}

/* -- ask ----------------------------------------------------------------------------- */
async function loadFacets() {
  try {
    const f = await api("/v1/facets");
    for (const key of ["jurisdiction", "doc_type", "industries"]) {
      const sel = $(`#f-${key}`);
      const keep = sel.value;
      for (const opt of $$("option:not([data-i18n])", sel)) opt.remove();
      for (const value of Object.keys(f[key] || {})) {
        const opt = document.createElement("option");
        opt.value = value;
        opt.textContent = key === "industries" && t("ind." + value) !== "ind." + value
          ? t("ind." + value) : value;
        sel.appendChild(opt);
      }
      sel.value = keep;
    }
  } catch (_) { /* filters stay at "any" */ }
}

function citationLinks(html, passages) {
  return html.replace(/\[(\d+)\]/g, (m, n) => passages[n]
    ? `<a href="#" class="cite" data-n="${n}" title="${esc(label(passages[n]))}">[${n}]</a>` : m);
}

function bindCitations(root, passages) {
  root.addEventListener("click", ev => {
    const a = ev.target.closest("[data-n]");
    if (!a) return;
    ev.preventDefault();
    const p = passages[a.dataset.n];
    if (p) openClause(p.source, p.locator, p.quote);
  });
}

function parseSSE(buffer, onEvent) {
  let idx;
  while ((idx = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, idx);
    buffer = buffer.slice(idx + 2);
    let event = "message", data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data += line.slice(5).trim();
    }
    if (data) onEvent(event, JSON.parse(data));
  }
  return buffer;
}

async function ask(ev) {
  ev.preventDefault();
  const question = $("#question").value.trim();
  if (!question) return;
  const filters = {};
  for (const key of ["jurisdiction", "doc_type", "industries"]) {
    const v = $(`#f-${key}`).value;
    if (v) filters[key] = v;
  }
  const body = { question, history: state.history.slice(-6), filters };
  const llm = $("#f-llm").value;
  if (llm) body.llm = llm;

  const turn = $("#turn-template").content.firstElementChild.cloneNode(true);
  translateTree(turn);
  $(".q", turn).textContent = question;
  $("#conversation").prepend(turn);
  const answerEl = $(".answer", turn);
  const passages = {};
  bindCitations(turn, passages);
  const button = $("#ask-button");
  const status = $("#ask-status");
  button.disabled = true;
  setStatus(status, t("ask.thinking"));
  answerEl.classList.add("streaming");
  let text = "";
  let final = null;

  const onEvent = (event, data) => {
    if (event === "evidence") {
      const ol = $(".evidence", turn);
      for (const p of data.passages) {
        passages[p.n] = p;
        const li = document.createElement("li");
        li.innerHTML = `<button type="button" class="cite-link" data-n="${p.n}">${esc(label(p))}</button>`;
        ol.appendChild(li);
      }
      $(".evidence-wrap", turn).hidden = !data.passages.length;
      setStatus(status, t("ask.writing"));
    } else if (event === "token") {
      text += data.text;
      answerEl.textContent = text;
    } else if (event === "reset") {
      text = t("ask.reset") + "\n";
      answerEl.textContent = text;
    } else if (event === "answer") {
      final = data;
    } else if (event === "error") {
      throw new ApiError(data.status || 500, data);
    }
  };

  try {
    const res = await fetch("/v1/ask", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", "Accept": "text/event-stream" }),
      body: JSON.stringify(body),
    });
    if (!res.ok) {
      let b = null;
      try { b = await res.json(); } catch (_) { /* empty */ }
      if (res.status === 401) askForKey();
      throw new ApiError(res.status, b);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = parseSSE(buffer + decoder.decode(value, { stream: true }), onEvent);
    }
    parseSSE(buffer + "\n\n", onEvent);
    if (final) renderAnswer(turn, final, passages);
    state.history.push(question);
    $("#question").value = "";
    setStatus(status, t("ask.done"));
  } catch (err) {
    answerEl.textContent = text;
    $(".refusal", turn).hidden = false;
    $(".refusal", turn).textContent = `${t("error")}: ${err.message}`;
    setStatus(status, err.message, true);
  } finally {
    answerEl.classList.remove("streaming");
    button.disabled = false;
  }
}

function renderAnswer(turn, a, passages) {
  for (const c of a.citations) passages[c.n] = Object.assign({}, passages[c.n] || {}, c);
  const answerEl = $(".answer", turn);
  answerEl.innerHTML = citationLinks(esc(a.answer), passages);
  if (a.refused) {
    $(".refusal", turn).hidden = false;
    $(".refusal", turn).textContent = `${t("ask.refused")}: ${a.reason || ""}`;
  }
  const ol = $(".citations", turn);
  ol.innerHTML = "";
  for (const c of a.citations) {
    const li = document.createElement("li");
    li.value = c.n;
    li.innerHTML = `<button type="button" class="cite-link" data-n="${c.n}">${esc(label(c))}</button>` +
      `<span class="quote">${esc((c.quote || "").slice(0, 220))}${(c.quote || "").length > 220 ? "…" : ""}</span>`;
    ol.appendChild(li);
  }
  $(".citations-wrap", turn).hidden = !a.citations.length;
  const ul = $(".related", turn);
  ul.innerHTML = "";
  for (const r of a.related_accidents || []) {
    const li = document.createElement("li");
    const key = "r" + (r.record_id || r.source);
    passages[key] = { source: r.source, locator: r.locator || "", title: r.title, quote: r.lesson };
    li.innerHTML = `<button type="button" class="cite-link" data-n="${esc(key)}">${esc(r.title || r.source)}</button>` +
      (r.lesson ? `<span class="quote">${esc(t("lesson"))}: ${esc(r.lesson)}</span>` : "");
    ul.appendChild(li);
  }
  $(".related-wrap", turn).hidden = !(a.related_accidents || []).length;
  const fb = $(".feedback", turn);
  fb.hidden = false;
  fb.dataset.answerId = a.answer_id;
  let rating = null;
  for (const b of $$("[data-rating]", fb)) {
    b.addEventListener("click", () => {
      rating = b.dataset.rating;
      for (const o of $$("[data-rating]", fb)) o.classList.toggle("on", o === b);
    });
  }
  $(".send", fb).addEventListener("click", async () => {
    if (!rating) { setStatus($(".status", fb), "👍 / 👎 ?", true); return; }
    try {
      await api("/v1/feedback", { method: "POST", json: {
        answer_id: a.answer_id, rating, comment: $(".comment", fb).value } });
      setStatus($(".status", fb), t("feedback.thanks"));
      $(".send", fb).disabled = true;
    } catch (err) { setStatus($(".status", fb), err.message, true); }
  });
  const ms = a.timings && a.timings.total_ms;
  $(".meta", turn).textContent = [a.backend, a.fallback ? `(${a.fallback})` : "",
    ms ? `${Math.round(ms)} ms` : ""].filter(Boolean).join(" · ");
}

/* -- checklists ---------------------------------------------------------------------- */
function checklistBody() {
  const body = {
    industry: $("#ck-industry").value,
    topic: $("#ck-topic").value.trim(),
    max_items: parseInt($("#ck-max").value, 10) || 30,
  };
  if ($("#ck-jurisdiction").value) body.jurisdiction = $("#ck-jurisdiction").value;
  if ($("#ck-lang").value) body.lang = $("#ck-lang").value;
  return body;
}

async function buildChecklist(ev) {
  ev.preventDefault();
  const status = $("#ck-status");
  const button = $("#ck-build");
  button.disabled = true;
  setStatus(status, t("ck.building"));
  try {
    const ck = await api("/v1/checklists?format=json", { method: "POST", json: checklistBody() });
    state.checklist = ck;
    state.checklistRequest = checklistBody();
    renderChecklist(ck);
    setStatus(status, ck.items.length ? `${ck.items.length} ${t("ck.items")}` : t("ck.none"), !ck.items.length);
  } catch (err) {
    setStatus(status, err.message, true);
  } finally {
    button.disabled = false;
  }
}

function renderChecklist(ck) {
  $("#ck-result").hidden = false;
  $("#ck-title").textContent = ck.title;
  const tbody = $("#ck-table tbody");
  tbody.innerHTML = "";
  const passages = {};
  for (const it of ck.items) {
    const tr = document.createElement("tr");
    tr.dataset.item = it.id;
    const basis = it.basis.map((b, i) => {
      const key = `${it.id}-${i}`;
      passages[key] = b;
      return `<button type="button" class="cite-link" data-n="${esc(key)}">${esc(b.locator)}</button>` +
        `<span class="tag">${esc(b.source.split("/").pop())}</span>`;
    }).join("<br>");
    const lesson = (it.lessons || [])[0];
    tr.innerHTML = `<td class="no">${esc(it.id)}</td><td>${esc(it.category)}</td>` +
      `<td>${esc(it.question)} <span class="tag">${esc(t(it.mandatory ? "mandatory" : "recommended"))}</span>` +
      (lesson ? `<div class="quote">${esc(t("lesson"))}: ${esc(lesson.title)}</div>` : "") +
      `</td><td>${basis}</td>`;
    tbody.appendChild(tr);
  }
  $("#ck-table").onclick = ev => {
    const a = ev.target.closest("[data-n]");
    if (!a) return;
    const b = passages[a.dataset.n];
    if (b) openClause(b.source, b.locator, b.quote);
  };
}

async function downloadChecklist(fmt) {
  const body = state.checklistRequest || checklistBody();
  const res = await api(`/v1/checklists?format=${fmt}&download=true`, { method: "POST", json: body, raw: true });
  const blob = await res.blob();
  const cd = res.headers.get("content-disposition") || "";
  const m = cd.match(/filename\*=UTF-8''([^;]+)/);
  const name = m ? decodeURIComponent(m[1]) : `checklist.${fmt}`;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

async function printHtml(loadHtml) {
  // the window opens at the click (pop-up blockers allow that), then receives the page
  const w = window.open("", "_blank");
  if (!w) { toast("pop-up blocked", true); return; }
  w.document.write(`<p style="font-family:sans-serif">${esc(t("loading"))}</p>`);
  try {
    const html = await loadHtml();
    w.document.open();
    w.document.write(html);
    w.document.close();
    w.focus();
    setTimeout(() => w.print(), 300);
  } catch (err) {
    w.close();
    throw err;
  }
}

function printChecklist() {
  const body = state.checklistRequest || checklistBody();
  return printHtml(() => api("/v1/checklists?format=html", { method: "POST", json: body }));
}

/* -- documents ----------------------------------------------------------------------- */
async function loadDocuments() {
  try {
    const d = await api("/v1/documents");
    state.documents = d.documents;
    state.counts = d.counts;
    for (const j of d.jobs) if (!(j.job_id in state.jobs)) state.jobs[j.job_id] = j;
    renderDocuments();
    renderJobs();
  } catch (err) { toast(err.message, true); }
}

function renderDocuments() {
  const tbody = $("#doc-table tbody");
  if (!tbody) return;
  const needle = ($("#doc-filter").value || "").toLowerCase();
  tbody.innerHTML = "";
  for (const d of state.documents) {
    if (needle && !`${d.title} ${d.source} ${d.doc_type} ${d.jurisdiction}`.toLowerCase().includes(needle)) continue;
    const tr = document.createElement("tr");
    tr.dataset.source = d.source;
    tr.innerHTML = `<td>${esc(d.title)}<div class="tag">${esc(d.source)}${d.uploaded ? ` · <span class="badge">${esc(t("doc.uploaded"))}</span>` : ""}</div></td>` +
      `<td>${esc(d.doc_type)}</td><td>${esc(d.jurisdiction)}</td><td>${d.chunks}</td>` +
      `<td><button type="button" class="delete" data-doc="${esc(d.doc_id)}">${esc(t("doc.delete"))}</button></td>`;
    tbody.appendChild(tr);
  }
  if (state.counts) {
    $("#doc-counts").textContent = t("doc.counts", { docs: state.counts.documents, chunks: state.counts.chunks });
  }
}

function renderJobs() {
  const ul = $("#jobs");
  ul.innerHTML = "";
  const jobs = Object.values(state.jobs).sort((a, b) => b.created_at - a.created_at).slice(0, 8);
  for (const j of jobs) {
    const li = document.createElement("li");
    li.dataset.job = j.job_id;
    li.innerHTML = `<span class="badge ${esc(j.status)}">${esc(t("job." + j.status))}</span> ${esc(j.source)}` +
      (j.chunks ? ` · ${j.chunks} ${esc(t("doc.chunks"))}` : "") +
      (j.error ? ` <span class="error">${esc(j.error)}</span>` : "");
    ul.appendChild(li);
  }
}

async function pollJob(jobId) {
  for (let i = 0; i < 600; i++) {
    const j = await api(`/v1/documents/jobs/${jobId}`);
    state.jobs[jobId] = j;
    renderJobs();
    if (j.status === "done" || j.status === "failed") {
      loadDocuments();
      loadFacets();
      return j;
    }
    await new Promise(r => setTimeout(r, i < 20 ? 300 : 1500));
  }
}

async function upload(ev) {
  ev.preventDefault();
  const file = $("#upload-file").files[0];
  if (!file) return;
  const status = $("#upload-status");
  const q = new URLSearchParams({ filename: file.name });
  for (const key of ["doc_type", "jurisdiction", "industries"]) {
    const v = $(`#upload-${key}`).value.trim();
    if (v) q.set(key, v);
  }
  $("#upload-button").disabled = true;
  setStatus(status, t("loading"));
  try {
    const job = await api("/v1/documents?" + q, {
      method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
    state.jobs[job.job_id] = job;
    renderJobs();
    setStatus(status, "");
    $("#upload-form").reset();
    pollJob(job.job_id).catch(err => toast(err.message, true));
  } catch (err) {
    setStatus(status, err.message, true);
  } finally {
    $("#upload-button").disabled = false;
  }
}

async function deleteDocument(docId) {
  if (!confirm(t("doc.confirm"))) return;
  try {
    await api(`/v1/documents/${encodeURIComponent(docId)}`, { method: "DELETE" });
    toast(t("doc.deleted"));
    loadDocuments();
  } catch (err) { toast(err.message, true); }
}

/* -- inspections --------------------------------------------------------------------- */
function showChecklistForInspection() {
  const p = $("#ins-checklist");
  if (state.checklist) {
    p.removeAttribute("data-i18n");
    p.textContent = t("ins.from") + state.checklist.title + ` (${state.checklist.items.length} ${t("ck.items")})`;
  } else {
    p.setAttribute("data-i18n", "ins.need_checklist");
    p.textContent = t("ins.need_checklist");
  }
  $("#ins-start").disabled = !state.checklist;
  if (!$("#ins-date").value) $("#ins-date").value = new Date().toISOString().slice(0, 10);
}

async function loadInspections() {
  try {
    const d = await api("/v1/inspections");
    const ul = $("#ins-list");
    ul.innerHTML = "";
    if (!d.inspections.length) ul.innerHTML = `<li class="meta">${esc(t("ins.none"))}</li>`;
    for (const r of d.inspections) {
      const li = document.createElement("li");
      li.innerHTML = `<a data-id="${esc(r.inspection_id)}">${esc(r.inspection_id)}</a> ` +
        `<span class="badge ${esc(r.status)}">${esc(t(r.status === "signed" ? "ins.signed" : "ins.open"))}</span> ` +
        `${esc(r.date)} · ${esc(r.site)}${r.area ? " / " + esc(r.area) : ""} · ${esc(r.checklist)} · ${esc(r.inspector)}`;
      ul.appendChild(li);
    }
  } catch (err) { toast(err.message, true); }
}

async function startInspection(ev) {
  ev.preventDefault();
  if (!state.checklist) return;
  const status = $("#ins-status");
  try {
    const shown = await api("/v1/inspections", { method: "POST", json: {
      checklist: state.checklist,
      site: $("#ins-site").value.trim(),
      area: $("#ins-area").value.trim(),
      inspector: $("#ins-inspector").value.trim(),
      date: $("#ins-date").value || null,
    } });
    setStatus(status, shown.inspection.id);
    $("#sign-name").value = shown.inspection.inspector;
    renderInspection(shown);
    loadInspections();
  } catch (err) { setStatus(status, err.message, true); }
}

async function openInspection(id) {
  try {
    const shown = await api(`/v1/inspections/${encodeURIComponent(id)}`);
    renderInspection(shown);
  } catch (err) { toast(err.message, true); }
}

function renderInspection(shown) {
  state.inspection = shown;
  const head = shown.inspection;
  $("#ins-detail").hidden = false;
  $("#ins-detail").dataset.id = head.id;
  $("#ins-title").textContent = `${head.id} · ${head.checklist.title}`;
  const done = shown.items.filter(i => i.result).length;
  $("#ins-head").textContent = [head.site + (head.area ? " / " + head.area : ""), head.inspector, head.date,
    t("ins.progress", { done, all: shown.items.length }),
    shown.status === "signed" ? t("ins.signed") : t("ins.open"), `v${head.version}`].join(" · ");
  const ol = $("#ins-items");
  ol.innerHTML = "";
  const signed = shown.status === "signed";
  for (const it of shown.items) {
    const li = $("#item-template").content.firstElementChild.cloneNode(true);
    translateTree(li);
    li.dataset.item = it.id;
    $(".q", li).textContent = `${it.id}. ${it.question}`;
    $(".basis", li).textContent = it.basis.map(b => `${b.source.split("/").pop()} ${b.locator}`).join("; ");
    const r = it.result;
    for (const b of $$("[data-result]", li)) {
      b.classList.toggle("on", !!r && r.result === b.dataset.result);
      b.disabled = signed;
      b.addEventListener("click", () => chooseResult(li, it, b.dataset.result));
    }
    if (r) {
      $(".state", li).textContent = t("ins.recorded") + (r.hazard_id ? ` · ${r.hazard_id}` : "");
      if (r.result === "fail") {
        $(".grade", li).value = r.grade || "general";
        $(".hazard", li).value = r.hazard || "";
        $(".action", li).value = r.action || "";
        $(".owner", li).value = r.owner || "";
        $(".due", li).value = r.due || "";
      }
    }
    $(".save-fail", li).addEventListener("click", () => recordItem(li, it, "fail"));
    ol.appendChild(li);
  }
  const hz = $("#ins-hazards");
  hz.innerHTML = "";
  for (const h of shown.hazards || []) {
    const li = document.createElement("li");
    const a = (h.actions || [])[0];
    li.innerHTML = `<span class="badge ${esc(h.status)}">${esc(h.status)}</span> ${esc(h.hazard_id)} ` +
      `[${esc(t("haz." + h.grade))}] ${esc(h.item_id)}: ${esc(h.description)}` +
      (a ? ` — ${esc(a.action)} (${esc(a.owner || "?")}, ${esc(a.due || "?")})` : "");
    hz.appendChild(li);
  }
  $("#ins-hazards-wrap").hidden = !(shown.hazards || []).length;
  $("#sign-button").disabled = signed;
  $("#signature").textContent = signed
    ? `${t("ins.signed")}: ${shown.signature.name} · ${shown.signature.at} · sha256 ${shown.record_hash}` : "";
  if (!$("#sign-name").value) $("#sign-name").value = head.inspector;
}

function chooseResult(li, it, result) {
  if (result === "fail") {
    $(".fail-fields", li).hidden = false;
    for (const b of $$("[data-result]", li)) b.classList.toggle("on", b.dataset.result === "fail");
    if (!$(".hazard", li).value) $(".hazard", li).focus();
    return;
  }
  $(".fail-fields", li).hidden = true;
  recordItem(li, it, result);
}

async function recordItem(li, it, result) {
  const id = state.inspection.inspection.id;
  const body = { result };
  if (result === "fail") {
    body.grade = $(".grade", li).value;
    body.hazard = $(".hazard", li).value.trim() || null;
    body.note = body.hazard || "";
    body.action = $(".action", li).value.trim() || null;
    body.owner = $(".owner", li).value.trim() || null;
    body.due = $(".due", li).value || null;
  }
  try {
    await api(`/v1/inspections/${encodeURIComponent(id)}/items/${encodeURIComponent(it.id)}`,
      { method: "POST", json: body });
    const shown = await api(`/v1/inspections/${encodeURIComponent(id)}`);
    renderInspection(shown);
  } catch (err) {
    $(".state", li).textContent = err.message;
    $(".state", li).classList.add("error");
  }
}

async function sign() {
  const id = state.inspection.inspection.id;
  const status = $("#sign-status");
  try {
    const out = await api(`/v1/inspections/${encodeURIComponent(id)}/sign`, { method: "POST", json: {
      name: $("#sign-name").value.trim() } });
    setStatus(status, `${t("ins.signed")} v${out.version}`);
    renderInspection(await api(`/v1/inspections/${encodeURIComponent(id)}`));
    loadInspections();
  } catch (err) { setStatus(status, err.message, true); }
}

async function exportInspection() {
  const id = state.inspection.inspection.id;
  printHtml(() => api(`/v1/inspections/${encodeURIComponent(id)}/export?format=html`))
    .catch(err => toast(err.message, true));
}

/* -- wiring -------------------------------------------------------------------------- */
function init() {
  $("#ask-form").addEventListener("submit", ask);
  $("#question").addEventListener("keydown", ev => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("#ask-form").requestSubmit();
  });
  $("#new-conversation").addEventListener("click", () => {
    state.history = [];
    $("#conversation").innerHTML = "";
    $("#question").focus();
  });
  $("#checklist-form").addEventListener("submit", buildChecklist);
  for (const b of $$(".download")) {
    b.addEventListener("click", () => downloadChecklist(b.dataset.format).catch(err => toast(err.message, true)));
  }
  $("#ck-print").addEventListener("click", () => printChecklist().catch(err => toast(err.message, true)));
  $("#ck-inspect").addEventListener("click", () => { location.hash = "#inspections"; });
  $("#upload-form").addEventListener("submit", upload);
  $("#doc-filter").addEventListener("input", renderDocuments);
  $("#doc-table").addEventListener("click", ev => {
    const b = ev.target.closest("button.delete");
    if (b) deleteDocument(b.dataset.doc);
  });
  $("#ins-new").addEventListener("submit", startInspection);
  $("#ins-list").addEventListener("click", ev => {
    const a = ev.target.closest("a[data-id]");
    if (a) openInspection(a.dataset.id);
  });
  $("#sign-button").addEventListener("click", sign);
  $("#ins-export").addEventListener("click", exportInspection);
  $("#lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("anquan.lang", state.lang);
    applyLanguage();
  });
  $("#key-button").addEventListener("click", askForKey);
  $("#key-dialog").addEventListener("close", () => {
    const v = $("#key-dialog").returnValue;
    if (v === "save") state.key = $("#key-input").value.trim();
    if (v === "clear") state.key = "";
    if (v === "save" || v === "clear") {
      if (state.key) localStorage.setItem("anquan.key", state.key);
      else localStorage.removeItem("anquan.key");
      loadFacets();
    }
  });
  window.addEventListener("hashchange", () => showView(location.hash.slice(1)));
  applyLanguage();
  showView(location.hash.slice(1) || "ask");
  loadFacets();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", init);
