// The observer's single page: it draws the page the path names from the
// JSON API and redraws it on every server-sent overview. Plain JavaScript,
// no build step; every text from the server goes in escaped.
"use strict";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const num = (n) => Number(n || 0).toLocaleString("en-US", { maximumFractionDigits: 1 });
const bytes = (n) => (n >= 1 << 20 ? num(n / (1 << 20)) + " MiB" : n >= 1024 ? num(n / 1024) + " KiB" : num(n) + " B");
const page = location.pathname.replace(/^\//, "") || "overview";
let overview = null;

async function api(path, body) {
  const opts = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, { credentials: "same-origin", ...opts });
  const text = await r.text();
  if (!r.ok) throw new Error(text.trim() || r.statusText);
  // Integers past 2^53 (random seeds, IDs) keep their digits: JSON.parse
  // would round them.
  const exact = (k, v, src) => (typeof v === "number" && !Number.isSafeInteger(v) && Number.isInteger(v) && src?.source ? src.source : v);
  return r.headers.get("Content-Type")?.startsWith("application/json") ? JSON.parse(text, exact) : text;
}

function table(head, rows) {
  const th = head.map((h) => `<th${h.endsWith("#") ? ' class="num"' : ""}>${esc(h.replace(/#$/, ""))}</th>`).join("");
  return `<table><thead><tr>${th}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}
const td = (v, cls) => `<td${cls ? ` class="${cls}"` : ""}>${v}</td>`;

function showSummary(ov) {
  overview = ov;
  const states = Object.entries(ov.counts || {}).map(([k, v]) => `${num(v)} ${k}`).join(", ");
  $("summary").textContent = `${ov.title} · ${num(ov.tasklets)} tasklets${states ? " (" + states + ")" : ""} · ${num(ov.channels)} channels` +
    (ov.state ? ` · ${ov.state}` : "");
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("on", a.dataset.page === page || (page === "tasklet" && a.dataset.page === "tasklets"));
    if (a.dataset.page === "game") a.hidden = !ov.can.game;
    if (a.dataset.page === "file") a.hidden = !ov.can.file;
    if (ov.source === "file" && ["tasklets", "channels", "overview"].includes(a.dataset.page)) a.hidden = true;
  }
}

// ---- overview: nodes, checkpoints, events
async function drawOverview(ov) {
  if (ov.source === "file") { location.replace("/file"); return; }
  const nodes = (ov.nodes || []).map((n) => n.error ? `<tr class="err">${td(n.node, "num")}${td(esc(n.host || ""))}${td(n.pid || "", "num")}<td colspan="8">not answering: ${esc(n.error)}</td></tr>` :
    `<tr>${td(n.node, "num")}${td(esc(n.host || ""))}${td(n.pid || "", "num")}${td(num(n.tasklets), "num")}` +
    `${td(num(n.runnable), "num")}${td(num(n.blocked), "num")}${td(num(n.steps), "num")}${td(num(n.steps_per_sec), "num")}${td(n.heap_bytes ? bytes(n.heap_bytes) : "", "num")}` +
    `${td(num(n.channel_ops), "num")}${td(n.link_bytes_in || n.link_bytes_out ? bytes(n.link_bytes_in || 0) + " in, " + bytes(n.link_bytes_out || 0) + " out" : "", "num")}</tr>`);
  const ck = ov.checkpoints || [];
  const maxB = Math.max(1, ...ck.map((c) => c.bytes || 1));
  const bars = ck.slice(-60).map((c) => `<div title="generation ${c.gen} at ${esc(c.at)}${c.bytes ? ", " + bytes(c.bytes) : ""}${c.duration_ns ? ", " + num(c.duration_ns / 1e6) + " ms" : ""}" style="height:${Math.max(5, 60 * (c.bytes || maxB) / maxB)}px"></div>`);
  const evs = (ov.events || []).slice().reverse().map((e) => `<li><span class="dim">${esc(new Date(e.at).toLocaleTimeString())}</span> <b>${esc(e.kind)}</b> ${esc(e.text)}</li>`);
  $("main").innerHTML = `${ov.leader ? `<p>Leader: <span id="leader">${esc(ov.leader)}</span></p>` : ""}
    <h2>${ov.source === "cluster" ? "Workers" : "Scheduler"}</h2>
    <div id="nodes">${table(["node#", "host", "pid#", "tasklets#", "runnable#", "blocked#", "steps#", "steps/s#", "heap#", "channel ops#", "link traffic#"], nodes)}</div>
    <h2>Checkpoints <span class="dim">(${ck.length}${ck.length ? ", newest generation " + ck[ck.length - 1].gen : ""})</span></h2>
    <div class="timeline" id="timeline">${bars.join("")}</div>
    <h2>Events</h2><ul class="events" id="events">${evs.join("") || '<li class="dim">none yet</li>'}</ul>`;
}

// ---- tasklets: filterable, paged. A source with a window (a cluster: its
// workers send their first offset+limit matches) is paged past it from the
// last row shown (?after=ID); marks keep where each such jump came from,
// for prev.
const tq = { q: "", state: "", node: "", offset: 0, limit: 50, after: "", base: 0, marks: [], last: null };
function tasklets() {
  if (!$("trows")) {
    $("main").innerHTML = `<div class="bar"><input id="filter" placeholder="filter: id, kind, state, channel" size="32">
      <select id="state"><option value="">any state</option>${["runnable", "blocked", "sleeping", "paused"].map((s) => `<option>${s}</option>`).join("")}</select>
      <input id="node" placeholder="node" size="5">
      <button id="prev">‹ prev</button><button id="next">next ›</button><span id="tcount" class="dim"></span></div><div id="trows"></div>`;
    const set = () => {
      Object.assign(tq, { q: $("filter").value, state: $("state").value, node: $("node").value, offset: 0, after: "", base: 0, marks: [] });
      tasklets();
    };
    $("filter").oninput = set; $("state").onchange = set; $("node").oninput = set;
    $("prev").onclick = () => {
      if (tq.offset > 0) tq.offset = Math.max(0, tq.offset - tq.limit);
      else if (tq.marks.length) Object.assign(tq, tq.marks.pop());
      tasklets();
    };
    $("next").onclick = () => {
      const p = tq.last;
      if (p && p.window && tq.offset + 2 * tq.limit > p.window && p.rows.length) {
        tq.marks.push({ after: tq.after, base: tq.base, offset: tq.offset });
        Object.assign(tq, { after: p.rows[p.rows.length - 1].id, base: tq.base + tq.offset + p.rows.length, offset: 0 });
      } else tq.offset += tq.limit;
      tasklets();
    };
  }
  const qs = new URLSearchParams({ q: tq.q, state: tq.state, offset: tq.offset, limit: tq.limit });
  if (tq.node) qs.set("node", tq.node);
  if (tq.after) qs.set("after", tq.after);
  api("/api/tasklets?" + qs).then((p) => {
    if (p.offset >= p.matched && p.matched > 0 && tq.offset > 0) { tq.offset = Math.max(0, p.matched - tq.limit); return tasklets(); }
    tq.last = p;
    const at = tq.base + p.offset;
    $("tcount").textContent = p.matched ? `${num(at + 1)}–${num(at + p.rows.length)} of ${num(tq.base + p.matched)} (of ${num(p.total)} live)` :
      tq.base ? `none past ${num(tq.base)} of ${num(p.total)} live` : `none of ${num(p.total)} live`;
    $("trows").innerHTML = table(["id", "kind", "state", "node#", "steps#", "waits on"], p.rows.map((t) =>
      `<tr data-id="${esc(t.id)}">${td(`<a href="/tasklet?id=${esc(t.id)}">${esc(t.id)}</a>`)}${td(esc(t.kind))}${td(esc(t.state))}${td(t.node, "num")}${td(num(t.steps), "num")}${td(esc(t.waits))}</tr>`));
  }).catch(showError);
}

// ---- one tasklet: fields, kill / throw / migrate with confirmation
const tid = new URLSearchParams(location.search).get("id");
let pending = null;
function taskletPage() {
  if (!$("detail")) {
    // The actions come before the detail, which every overview redraws:
    // a button that moved as the detail drew would lose the click aimed
    // at it.
    $("main").innerHTML = `<h2>Tasklet <span id="tid">${esc(tid)}</span></h2>
      <div class="bar" id="actions"></div><div id="confirm"></div><div id="act-result"></div><div id="detail"></div>`;
    const can = overview?.can || {};
    let acts = "";
    if (can.kill) acts += `<button class="danger" id="act-kill">Kill</button>`;
    if (can.throw) acts += `<input id="throw-msg" placeholder="error message" value="thrown from the observer"><button class="danger" id="act-throw">Throw</button>`;
    if (can.migrate) acts += `<select id="migrate-to">${(overview.nodes || []).map((n) => `<option>${n.node}</option>`).join("")}</select><button id="act-migrate">Migrate</button>`;
    $("actions").innerHTML = acts;
    if (can.kill) $("act-kill").onclick = () => ask({ action: "kill", id: tid }, `Kill ${tid}? Its next step sees the kill.`);
    if (can.throw) $("act-throw").onclick = () => ask({ action: "throw", id: tid, message: $("throw-msg").value }, `Throw "${$("throw-msg").value}" into ${tid}?`);
    if (can.migrate) $("act-migrate").onclick = () => ask({ action: "migrate", id: tid, to: Number($("migrate-to").value) }, `Migrate ${tid} to worker ${$("migrate-to").value}?`);
  }
  api("/api/tasklet?id=" + encodeURIComponent(tid)).then((d) => {
    const rows = [["kind", d.kind], ["state", d.state], ["node", d.node], ["steps", num(d.steps)], ["waits on", d.waits || "—"]];
    if (d.atomic) rows.push(["atomic", "yes"]);
    const f = d.fields ? Object.entries(d.fields).map(([k, v]) => `<tr>${td(esc(k))}${td(`<code>${esc(JSON.stringify(v))}</code>`)}</tr>`) : [];
    $("detail").innerHTML = table(["", ""], rows.map(([k, v]) => `<tr>${td(esc(k))}${td(esc(v), k === "state" ? "" : "")}</tr>`)) +
      (d.frames?.length ? `<h2>Suspended at</h2><div id="frames">${table(["frame", "function", "at", "waits in"],
        d.frames.map((fr, i) => `<tr>${td(i, "num")}${td(esc(fr.function))}${td(`<code>${esc(fr.file)}:${fr.line}</code>`)}${td(esc(fr.point))}</tr>`))}</div>` : "") +
      `<h2>Fields</h2><div id="fields">${table(["field", "value"], f)}</div>`;
  }).catch((e) => { $("detail").innerHTML = `<p class="err" id="gone">${esc(e.message)}</p>`; });
}
function ask(req, question) {
  pending = req;
  $("confirm").innerHTML = `<div class="confirm">${esc(question)} <button class="danger" id="act-confirm">Yes, ${esc(req.action)}</button> <button id="act-cancel">Cancel</button></div>`;
  $("act-cancel").onclick = () => { pending = null; $("confirm").innerHTML = ""; };
  $("act-confirm").onclick = () => {
    const r = pending; pending = null; $("confirm").innerHTML = "";
    api("/api/act", r).then((res) => { $("act-result").innerHTML = `<p class="ok">${esc(res.result)}</p>`; taskletPage(); })
      .catch((e) => { $("act-result").innerHTML = `<p class="err">${esc(e.message)}</p>`; });
  };
}

// ---- channels, busiest first
function channels() {
  api("/api/channels?limit=100").then((p) => {
    const w = (ids) => esc(ids.slice(0, 5).join(" ") + (ids.length > 5 ? ` … (+${ids.length - 5})` : ""));
    $("main").innerHTML = `<p class="dim">The busiest ${p.rows.length} of ${num(p.total)} channels: the most waiters and buffered values first. Balance = blocked senders minus blocked receivers.</p>` +
      `<div id="crows">${table(["id", "node#", "cap#", "len#", "balance#", "senders waiting", "receivers waiting", ""], p.rows.map((c) =>
        `<tr>${td(esc(c.id))}${td(c.node, "num")}${td(c.cap, "num")}${td(c.len, "num")}${td(c.balance, "num")}${td(w(c.senders))}${td(w(c.receivers))}${td(c.closed ? "closed" : "")}</tr>`))}</div>`;
  }).catch(showError);
}

// ---- the game: the world on a canvas, click an entity, controls
let gameBusy = false;
function game() {
  if (!$("world")) {
    $("main").innerHTML = `<div class="game"><div><canvas id="world" width="512" height="512"></canvas>
      <div class="bar">${["pause", "resume", "step", "save", "load"].map((c) => `<button id="ctl-${c}">${c === "step" ? "step one tick" : c}</button>`).join("")}</div>
      <div id="game-state"></div><div id="ctl-result"></div></div>
      <div><h2>Entity</h2><div id="entity" class="dim">click an entity in the world</div><h2>Colours</h2><div id="legend" class="legend"></div></div></div>`;
    for (const c of ["pause", "resume", "step", "save", "load"]) {
      $("ctl-" + c).onclick = () => api("/api/game/control", { cmd: c }).then((r) => { $("ctl-result").innerHTML = `<p class="ok">${esc(r.result)}</p>`; game(); })
        .catch((e) => { $("ctl-result").innerHTML = `<p class="err">${esc(e.message)}</p>`; });
    }
    $("world").onclick = (ev) => {
      const r = ev.target.getBoundingClientRect();
      const x = (ev.clientX - r.left) / r.width, y = (ev.clientY - r.top) / r.height;
      api(`/api/game/entity?x=${x}&y=${y}`).then((e) => {
        const f = e.fields ? Object.entries(e.fields).map(([k, v]) => `<tr>${td(esc(k))}${td(`<code>${esc(JSON.stringify(v))}</code>`)}</tr>`) : [];
        $("entity").innerHTML = `<p><b id="entity-kind">${esc(e.kind)}</b> in slot ${e.slot}: <span id="entity-state">${esc(e.state)}</span>` +
          (e.tasklet ? `, tasklet <a href="/tasklet?id=${esc(e.tasklet)}">${esc(e.tasklet)}</a>` : "") + `</p>` + table(["field", "value"], f);
      }).catch(showError);
    };
  }
  if (gameBusy) return;
  gameBusy = true;
  api("/api/game").then((st) => {
    $("game-state").innerHTML = `<p>tick <b id="tick">${st.tick}</b> · ${st.paused ? '<span id="paused">paused</span>' : "running"} · ${num(st.entities)} entities` +
      (st.save_file ? ` · saves to ${esc(st.save_file)}${st.saved_generation ? " (generation " + st.saved_generation + ")" : ""}` : "") + `</p><p class="dim">${esc(st.stats)}</p>`;
    $("legend").innerHTML = (st.legend || []).map((l) => `<div><span style="background:${esc(l.colour)}"></span>${esc(l.means)}</div>`).join("");
    const img = new Image();
    img.onload = () => { $("world").getContext("2d").drawImage(img, 0, 0); gameBusy = false; };
    img.onerror = () => { gameBusy = false; };
    img.src = "/api/game/frame.png?size=512&t=" + Date.now();
  }).catch((e) => { gameBusy = false; showError(e); });
}

// ---- a checkpoint file: generations, header, tasklets, channels
let fileWorld = null, fileGen = 0, fileQ = "", fileOff = 0, fileReq = 0;
function file() {
  const gen = fileGen ? "?gen=" + fileGen : "";
  // Only the newest request draws: the first overview and the first live
  // event both load the file, and a late answer for the newest generation
  // overwrote the generation the user had clicked meanwhile.
  const req = ++fileReq;
  api("/api/file" + gen).then((w) => { if (req === fileReq) { fileWorld = w; drawFile(); } }).catch(showError);
}
function drawFile() {
  const w = fileWorld;
  const gens = (w.generations || []).map((g) => `<tr class="${g.gen === w.gen ? "on" : ""}">${td(`<a href="#" data-gen="${g.gen}">${g.gen}</a>${g.gen === w.gen ? " ◀" : ""}`)}` +
    `${td(g.full ? "full" : "on " + g.base)}${td(esc(new Date(g.time).toLocaleString()))}${td(num(g.records), "num")}${td(bytes(g.bytes), "num")}</tr>`);
  const ts = (w.tasklets || []).filter((t) => !fileQ || JSON.stringify([t.id, t.kind, t.state, t.waits_on]).toLowerCase().includes(fileQ));
  const rows = ts.slice(fileOff, fileOff + 50).map((t) => `<tr>${td(`<a href="#" data-t="${t.id}">t${t.id}</a>`)}${td(t.worker || "", "num")}${td(esc(t.kind))}${td(t.version, "num")}` +
    `${td(esc(t.state))}${td(esc(t.waits_on || ""))}${td(num(t.steps), "num")}</tr>`);
  const cs = (w.channels || []).slice(0, 100).map((c) => `<tr>${td("c" + c.id)}${td(c.cap, "num")}${td(c.len, "num")}${td(c.balance, "num")}${td(c.closed ? "closed" : "")}</tr>`);
  const h = w.header;
  $("main").innerHTML = `<p>File <b id="file-path">${esc(w.file)}</b> (${esc(w.type)}), read-only.</p>` +
    (gens.length ? `<h2>Generations</h2><div id="gens">${table(["generation", "kind", "time", "records#", "bytes#"], gens)}</div>` : "") +
    `<h2>World of generation <span id="file-gen">${w.gen}</span></h2>` +
    (h ? `<p class="dim">clock ${num(h.clock_ns / 1e6)} ms · tick ${h.tick} · ${num(h.steps)} steps · run queue ${h.run_queue.length} · timers ${h.timers.length} · kinds ${esc(h.kinds.map((k) => k.name + " v" + k.version).join(", "))}</p>` : "") +
    ((w.workers || []).length ? `<p class="dim">workers: ${w.workers.map((x) => `${x.node} (${x.tasklets} tasklets)`).join(", ")}</p>` : "") +
    `<h2>Tasklets <span class="dim" id="file-count">${num(ts.length)}</span></h2><div class="bar"><input id="file-filter" placeholder="filter" value="${esc(fileQ)}">` +
    `<button id="fprev">‹ prev</button><button id="fnext">next ›</button></div><div id="file-tasklets">${table(["id", "worker#", "kind", "v#", "state", "waits on", "steps#"], rows)}</div>` +
    `<div id="file-detail"></div><h2>Channels</h2>${table(["id", "cap#", "len#", "balance#", ""], cs)}`;
  for (const a of document.querySelectorAll("a[data-gen]")) a.onclick = (e) => { e.preventDefault(); fileGen = Number(a.dataset.gen); fileOff = 0; file(); };
  for (const a of document.querySelectorAll("a[data-t]")) a.onclick = (e) => {
    e.preventDefault();
    const t = w.tasklets.find((x) => String(x.id) === a.dataset.t);
    $("file-detail").innerHTML = `<h2>t${t.id}</h2><pre id="file-fields">${esc(JSON.stringify(t, null, 2))}</pre>`;
  };
  const f = $("file-filter");
  f.oninput = () => { fileQ = f.value.toLowerCase(); fileOff = 0; drawFile(); $("file-filter").focus(); };
  $("fprev").onclick = () => { fileOff = Math.max(0, fileOff - 50); drawFile(); };
  $("fnext").onclick = () => { if (fileOff + 50 < ts.length) fileOff += 50; drawFile(); };
}

function showError(e) {
  let el = $("error");
  if (!el) { el = document.createElement("p"); el.id = "error"; el.className = "err"; $("main").prepend(el); }
  el.textContent = e.message;
}

const draw = { overview: drawOverview, tasklets, tasklet: taskletPage, channels, game, file };
function redraw(ov) {
  showSummary(ov);
  if (page === "overview") drawOverview(ov);
  else if (page === "file") { if (!fileWorld && !fileReq) file(); }
  else if (draw[page]) draw[page]();
}

api("/api/overview").then(redraw).catch(showError);
const es = new EventSource("/api/events");
es.addEventListener("overview", (m) => { $("live").classList.add("on"); redraw(JSON.parse(m.data)); });
es.addEventListener("error", () => $("live").classList.remove("on"));
