// spanhouse trace viewer: plain JavaScript over the query API (/api/...), no build step and
// nothing loaded from elsewhere. Pages: #/ (search), #/trace/<id>, #/compare.
"use strict";

const state = { trace: null, collapsed: new Set(), selected: null };

// ---- helpers ----------------------------------------------------------------------

function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms === 0) return "0";
  if (ms >= 60000) return (ms / 60000).toFixed(1) + " min";
  if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
  if (ms >= 1) return ms.toFixed(1) + " ms";
  return (ms * 1000).toFixed(0) + " µs";
}

function formatCost(cost) {
  return cost === null || cost === undefined ? "" : Number(cost).toFixed(6).replace(/0+$/, "").replace(/\.$/, "");
}

function formatRate(rate) {
  return rate === null || rate === undefined ? "–" : (rate * 100).toFixed(1) + " %";
}

function formatTime(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

function statusClass(code) {
  const lower = String(code || "").toLowerCase();
  if (lower.includes("error")) return "error";
  if (lower.includes("ok")) return "ok";
  return "unset";
}

async function api(path) {
  const headers = {};
  const token = localStorage.getItem("spanhouse.token");
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
  return body;
}

function setStatus(id, text, isError) {
  const element = document.getElementById(id);
  element.textContent = text;
  element.classList.toggle("error", Boolean(isError));
}

function showPage(name) {
  for (const page of document.querySelectorAll(".page")) page.hidden = page.id !== "page-" + name;
}

// ---- search -----------------------------------------------------------------------

async function fillSelect(select, items, label) {
  const current = select.value;
  select.innerHTML = '<option value="">any</option>' + items.map((item) =>
    `<option value="${escapeHtml(item)}">${escapeHtml(label ? label(item) : item)}</option>`).join("");
  select.value = current;
}

async function loadFilterChoices() {
  try {
    const [services, agents] = await Promise.all([api("/api/services"), api("/api/agents")]);
    const form = document.getElementById("search-form");
    await fillSelect(form.elements.service, services.services.map((s) => s.name));
    await fillSelect(form.elements.agent, agents.agents.map((a) => a.name));
  } catch (error) {
    setStatus("search-status", "Cannot list services and agents: " + error.message, true);
  }
}

function searchQuery(form) {
  const params = new URLSearchParams();
  for (const element of form.elements) {
    if (!element.name || !element.value) continue;
    if (element.name === "lookback") {
      if (element.value === "all") params.set("start", "0");
      else params.set("lookback", element.value);
    } else {
      params.set(element.name, element.value.trim());
    }
  }
  return params;
}

async function runSearch() {
  const form = document.getElementById("search-form");
  const params = searchQuery(form);
  setStatus("search-status", "Searching…");
  const tbody = document.querySelector("#trace-list tbody");
  try {
    const result = await api("/api/traces?" + params.toString());
    tbody.innerHTML = result.traces.map((trace) => `
      <tr data-trace-id="${escapeHtml(trace.trace_id)}">
        <td>${escapeHtml(formatTime(trace.started_at))}</td>
        <td>${escapeHtml(trace.agent_name)}</td>
        <td><span class="badge ${trace.status === "error" ? "error" : "ok"}">${escapeHtml(trace.status)}</span>
            ${escapeHtml(trace.root_name)}</td>
        <td>${escapeHtml(trace.root_service)}</td>
        <td class="num">${escapeHtml(formatMs(trace.duration_ms))}</td>
        <td class="num">${trace.span_count}</td>
        <td class="num">${trace.error_count}</td>
        <td class="num">${trace.total_tokens ?? ""}</td>
        <td class="num">${escapeHtml(formatCost(trace.total_cost_usd))}</td>
      </tr>`).join("");
    setStatus("search-status", `${result.traces.length} trace(s) between ${formatTime(result.start)} and ${formatTime(result.end)}`);
  } catch (error) {
    tbody.innerHTML = "";
    setStatus("search-status", "Search failed: " + error.message, true);
  }
}

// ---- trace page: waterfall and span panel -------------------------------------------

function orderSpans(spans) {
  // Depth-first by parent, children by start; a span whose parent is missing is a root.
  const byId = new Map(spans.map((span) => [span.span_id, span]));
  const children = new Map();
  const roots = [];
  for (const span of spans) {
    if (span.parent_span_id && byId.has(span.parent_span_id)) {
      if (!children.has(span.parent_span_id)) children.set(span.parent_span_id, []);
      children.get(span.parent_span_id).push(span);
    } else {
      roots.push(span);
    }
  }
  const ordered = [];
  const stack = roots.slice().reverse().map((span) => [span, 0]);
  while (stack.length) {
    const [span, depth] = stack.pop();
    const kids = children.get(span.span_id) || [];
    ordered.push({ span, depth, hasChildren: kids.length > 0 });
    if (!state.collapsed.has(span.span_id)) {
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
    }
  }
  return ordered;
}

function renderWaterfall() {
  const trace = state.trace;
  const spans = trace.spans;
  const start = Math.min(...spans.map((s) => s.start_ns));
  const end = Math.max(...spans.map((s) => s.start_ns + s.duration_ms * 1e6));
  const total = Math.max(end - start, 1);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    `<span style="left:${f * 100}%">${escapeHtml(formatMs((total * f) / 1e6))}</span>`).join("");
  const rows = orderSpans(spans).map(({ span, depth, hasChildren }) => {
    const left = ((span.start_ns - start) / total) * 100;
    const width = Math.max((span.duration_ms * 1e6 / total) * 100, 0.15);
    const toggle = hasChildren ? (state.collapsed.has(span.span_id) ? "▸" : "▾") : "";
    const selected = state.selected === span.span_id ? " selected" : "";
    // The duration reads after the bar, or inside its end when the bar reaches the right edge.
    const inside = left + width > 85;
    const durationStyle = inside ? `left:${left + width}%;transform:translateX(-100%)` : `left:${left + width}%`;
    return `<div class="span-row${selected}" data-span-id="${escapeHtml(span.span_id)}">
      <div class="label" style="padding-left:${4 + depth * 14}px" title="${escapeHtml(span.name)}">
        <span class="toggle" data-toggle="${escapeHtml(span.span_id)}">${toggle}</span><span class="name">${escapeHtml(span.name)}</span>
        <span class="service">${escapeHtml(span.service_name)}</span></div>
      <div class="track"><div class="bar ${statusClass(span.status_code)}" style="left:${left}%;width:${width}%"></div>
        <span class="duration${inside ? " inside" : ""}" style="${durationStyle}">${escapeHtml(formatMs(span.duration_ms))}</span></div>
    </div>`;
  }).join("");
  document.getElementById("waterfall").innerHTML =
    `<div class="axis"><div>Span</div><div class="ticks">${ticks}</div></div>${rows}`;
}

function attributeTable(attributes) {
  const keys = Object.keys(attributes || {}).sort();
  if (!keys.length) return '<p class="hint">none</p>';
  return "<table>" + keys.map((key) =>
    `<tr><td class="key">${escapeHtml(key)}</td><td class="value">${escapeHtml(attributes[key])}</td></tr>`).join("") +
    "</table>";
}

function parseJson(text) {
  try { return JSON.parse(text); } catch (error) { return null; }
}

function messageText(message) {
  if (typeof message === "string") return message;
  if (!message || typeof message !== "object") return String(message ?? "");
  if (typeof message.content === "string") return message.content;
  const parts = message.parts || (Array.isArray(message.content) ? message.content : []);
  return parts.map((part) => {
    if (typeof part === "string") return part;
    if (part.content !== undefined) return typeof part.content === "string" ? part.content : JSON.stringify(part.content);
    if (part.text !== undefined) return part.text;
    if (part.type === "tool_call") return `→ ${part.name}(${JSON.stringify(part.arguments ?? {})})`;
    if (part.type === "tool_call_response") return `← ${JSON.stringify(part.response ?? part.result ?? "")}`;
    return JSON.stringify(part);
  }).join("\n");
}

function conversationOf(span) {
  // GenAI semantic conventions first, then the older prompt/completion names, then OpenInference.
  const attributes = span.attributes || {};
  const messages = [];
  const system = attributes["gen_ai.system_instructions"];
  if (system) {
    const parsed = parseJson(system);
    messages.push({ role: "system", text: Array.isArray(parsed) ? parsed.map(messageText).join("\n") : system });
  }
  for (const key of ["gen_ai.input.messages", "gen_ai.output.messages"]) {
    const parsed = parseJson(attributes[key] || "");
    if (Array.isArray(parsed)) {
      for (const message of parsed) messages.push({ role: message.role || (key.includes("output") ? "assistant" : "user"), text: messageText(message) });
    }
  }
  if (!messages.length) {
    if (attributes["gen_ai.prompt"]) messages.push({ role: "user", text: attributes["gen_ai.prompt"] });
    if (attributes["gen_ai.completion"]) messages.push({ role: "assistant", text: attributes["gen_ai.completion"] });
  }
  if (!messages.length) {
    for (let i = 0; attributes[`llm.input_messages.${i}.message.role`] !== undefined; i++) {
      messages.push({ role: attributes[`llm.input_messages.${i}.message.role`],
                      text: attributes[`llm.input_messages.${i}.message.content`] || "" });
    }
    for (let i = 0; attributes[`llm.output_messages.${i}.message.role`] !== undefined; i++) {
      messages.push({ role: attributes[`llm.output_messages.${i}.message.role`],
                      text: attributes[`llm.output_messages.${i}.message.content`] || "" });
    }
  }
  for (const event of span.events || []) {
    const match = /^gen_ai\.(system|user|assistant|tool)\.message$/.exec(event.name);
    if (match) messages.push({ role: match[1], text: event.attributes.content || JSON.stringify(event.attributes) });
    if (event.name === "gen_ai.choice") messages.push({ role: "assistant", text: event.attributes.message || JSON.stringify(event.attributes) });
  }
  return messages;
}

function usageOf(span) {
  const a = span.attributes || {};
  const rows = [];
  const add = (label, key) => { if (a[key] !== undefined && a[key] !== "") rows.push([label, a[key]]); };
  add("model", "gen_ai.response.model"); add("model (requested)", "gen_ai.request.model");
  add("input tokens", "gen_ai.usage.input_tokens"); add("output tokens", "gen_ai.usage.output_tokens");
  add("total tokens", "llm.token_count.total"); add("cost (USD)", "gen_ai.usage.cost");
  return rows;
}

function renderSpanPanel(span) {
  const panel = document.getElementById("span-panel");
  const conversation = conversationOf(span);
  const usage = usageOf(span);
  const events = (span.events || []).map((event) => `
    <div class="event"><b>${escapeHtml(event.name)}</b> <span class="hint">${escapeHtml(formatTime(event.time))}</span>
      ${attributeTable(event.attributes)}</div>`).join("") || '<p class="hint">none</p>';
  panel.innerHTML = `
    <h2 id="span-name">${escapeHtml(span.name)}</h2>
    <table id="span-overview">
      <tr><td class="key">span id</td><td class="value">${escapeHtml(span.span_id)}</td></tr>
      <tr><td class="key">parent</td><td class="value">${escapeHtml(span.parent_span_id || "—")}</td></tr>
      <tr><td class="key">service</td><td class="value">${escapeHtml(span.service_name)}</td></tr>
      <tr><td class="key">kind</td><td class="value">${escapeHtml(span.kind)}</td></tr>
      <tr><td class="key">status</td><td class="value"><span class="badge ${statusClass(span.status_code)}">${escapeHtml(span.status_code)}</span> ${escapeHtml(span.status_message)}</td></tr>
      <tr><td class="key">start</td><td class="value">${escapeHtml(span.started_at)}</td></tr>
      <tr><td class="key">duration</td><td class="value">${escapeHtml(formatMs(span.duration_ms))}</td></tr>
    </table>
    ${usage.length ? "<h3>Tokens and cost</h3><table id=\"span-usage\">" + usage.map(([k, v]) =>
      `<tr><td class="key">${escapeHtml(k)}</td><td class="value">${escapeHtml(v)}</td></tr>`).join("") + "</table>" : ""}
    ${conversation.length ? '<h3>Conversation</h3><div class="conversation" id="span-conversation">' + conversation.map((m) =>
      `<div class="message ${escapeHtml(m.role)}"><span class="role">${escapeHtml(m.role)}</span><span class="text">${escapeHtml(m.text)}</span></div>`).join("") + "</div>" : ""}
    <h3>Attributes</h3><div id="span-attributes">${attributeTable(span.attributes)}</div>
    <h3>Events</h3><div id="span-events">${events}</div>
    <h3>Resource</h3>${attributeTable(span.resource_attributes)}`;
}

function renderTraceHeader() {
  const { summary, outcome, feedback, trace_id: traceId, truncated } = state.trace;
  const field = (label, value) => `<span class="field"><b>${escapeHtml(label)}</b>${escapeHtml(value)}</span>`;
  const feedbackText = feedback.map((f) => {
    const parts = [f.source];
    if (f.rating) parts.push(f.rating > 0 ? "👍" : "👎");
    if (f.score !== null) parts.push("score " + f.score);
    if (f.comment) parts.push("“" + f.comment + "”");
    return parts.join(" ");
  }).join("; ");
  document.getElementById("trace-header").innerHTML = `
    <h1>${escapeHtml(summary.root_name)} <span class="badge ${summary.status === "error" ? "error" : "ok"}">${escapeHtml(summary.status)}</span></h1>
    ${field("trace", traceId)}${field("agent", summary.agent_name)}${field("service", summary.root_service)}
    ${field("started", formatTime(summary.started_at))}${field("duration", formatMs(summary.duration_ms))}
    ${field("spans", summary.span_count)}${field("errors", summary.error_count)}
    ${field("tokens", summary.total_tokens ?? "—")}${field("cost (USD)", formatCost(summary.total_cost_usd) || "—")}
    <span class="field" id="trace-outcome"><b>outcome</b>${outcome ? escapeHtml((outcome.success ? "success" : "failure") + (outcome.outcome ? ": " + outcome.outcome : "")) : "—"}</span>
    <span class="field" id="trace-feedback"><b>feedback</b>${escapeHtml(feedbackText || "—")}</span>
    ${truncated ? field("note", "only the first spans are shown") : ""}`;
}

async function showTrace(traceId) {
  showPage("trace");
  document.getElementById("trace-header").innerHTML = '<p class="status">Loading…</p>';
  document.getElementById("waterfall").innerHTML = "";
  try {
    state.trace = await api("/api/traces/" + encodeURIComponent(traceId));
  } catch (error) {
    document.getElementById("trace-header").innerHTML = `<p class="status error">${escapeHtml(error.message)}</p>`;
    return;
  }
  state.collapsed = new Set();
  state.selected = null;
  renderTraceHeader();
  renderWaterfall();
  document.getElementById("span-panel").innerHTML = '<p class="hint">Select a span to see its details.</p>';
}

// ---- compare agents ----------------------------------------------------------------

const STAT_ROWS = [
  ["traces", "trace_count", (v) => v], ["success rate", "success_rate", formatRate],
  ["outcomes known", "outcome_count", (v) => v], ["error rate", "error_rate", formatRate],
  ["avg duration", "avg_duration_ms", formatMs], ["p50 duration", "p50_duration_ms", formatMs],
  ["p95 duration", "p95_duration_ms", formatMs], ["tokens", "total_tokens", (v) => v],
  ["tokens per trace", "avg_tokens_per_trace", (v) => (v === null ? "–" : Number(v).toFixed(1))],
  ["cost (USD)", "total_cost_usd", formatCost], ["cost per trace (USD)", "avg_cost_per_trace_usd", formatCost],
  ["first trace", "first_trace_at", formatTime], ["last trace", "last_trace_at", formatTime],
];

async function showCompare(params) {
  showPage("compare");
  const form = document.getElementById("compare-form");
  try {
    const { agents } = await api("/api/agents?start=0");
    const options = agents.map((a) => `<option value="${escapeHtml(a.id)}">${escapeHtml(a.name)}</option>`).join("");
    form.elements.agent_a.innerHTML = options;
    form.elements.agent_b.innerHTML = options;
    if (agents.length > 1) form.elements.agent_b.selectedIndex = 1;
  } catch (error) {
    setStatus("compare-status", "Cannot list agents: " + error.message, true);
    return;
  }
  if (params.get("agent_a")) form.elements.agent_a.value = params.get("agent_a");
  if (params.get("agent_b")) form.elements.agent_b.value = params.get("agent_b");
  if (params.get("agent_a") && params.get("agent_b")) await runCompare();
}

async function runCompare() {
  const form = document.getElementById("compare-form");
  const query = new URLSearchParams({ agent_a: form.elements.agent_a.value, agent_b: form.elements.agent_b.value });
  setStatus("compare-status", "Comparing…");
  try {
    const { agents } = await api("/api/agents/compare?" + query.toString());
    const table = document.getElementById("compare-table");
    table.innerHTML = `<thead><tr><th></th>${agents.map((a) => `<th class="num">${escapeHtml(a.agent_name)}</th>`).join("")}</tr></thead>
      <tbody>${STAT_ROWS.map(([label, key, format]) =>
        `<tr data-stat="${key}"><td>${escapeHtml(label)}</td>${agents.map((a) => `<td class="num">${escapeHtml(format(a[key]))}</td>`).join("")}</tr>`).join("")}</tbody>`;
    setStatus("compare-status", "");
  } catch (error) {
    setStatus("compare-status", "Compare failed: " + error.message, true);
  }
}

// ---- routing and events -------------------------------------------------------------

async function route() {
  const hash = location.hash || "#/";
  const [path, queryString] = hash.slice(1).split("?");
  const params = new URLSearchParams(queryString || "");
  if (path.startsWith("/trace/")) {
    await showTrace(decodeURIComponent(path.slice("/trace/".length)));
  } else if (path.startsWith("/compare")) {
    await showCompare(params);
  } else {
    showPage("search");
    await loadFilterChoices();
    await runSearch();
  }
  document.body.dataset.ready = "true";
}

function wire() {
  const token = document.getElementById("token");
  token.value = localStorage.getItem("spanhouse.token") || "";
  token.addEventListener("change", () => { localStorage.setItem("spanhouse.token", token.value.trim()); route(); });
  document.getElementById("search-form").addEventListener("submit", (event) => { event.preventDefault(); runSearch(); });
  document.getElementById("compare-form").addEventListener("submit", (event) => { event.preventDefault(); runCompare(); });
  document.querySelector("#trace-list tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-trace-id]");
    if (row) location.hash = "#/trace/" + row.dataset.traceId;
  });
  document.getElementById("waterfall").addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-toggle]");
    if (toggle && toggle.textContent) {
      const id = toggle.dataset.toggle;
      if (state.collapsed.has(id)) state.collapsed.delete(id); else state.collapsed.add(id);
      renderWaterfall();
      return;
    }
    const row = event.target.closest(".span-row");
    if (!row) return;
    const span = state.trace.spans.find((s) => s.span_id === row.dataset.spanId);
    if (!span) return;
    for (const other of document.querySelectorAll(".span-row.selected")) other.classList.remove("selected");
    row.classList.add("selected");
    state.selected = span.span_id;
    renderSpanPanel(span);
  });
  window.addEventListener("hashchange", () => { document.body.dataset.ready = "false"; route(); });
}

wire();
route();
