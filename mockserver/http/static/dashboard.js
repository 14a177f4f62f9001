// The bfl-mock dashboard: one EventSource feeding snapshots of the mock into the page.
"use strict";

const $ = (selector) => document.querySelector(selector);
const numbers = new Intl.NumberFormat("en-US");
const media = new Map(); // task id -> its <img>/<video>, kept so updates never refetch it
let source = null;
let scenarioEdited = false;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function clock(epoch) {
  if (epoch === null || epoch === undefined) return "";
  return new Date(epoch * 1000).toLocaleTimeString("en-GB", { hour12: false });
}

function seconds(from, to) {
  return from === null || to === null ? "" : `${(to - from).toFixed(1)} s`;
}

function count(id, list) {
  const shown = list.rows.length;
  $(id).textContent = shown < list.matched
    ? `showing ${numbers.format(shown)} of ${numbers.format(list.matched)}`
    : numbers.format(list.matched);
}

function statusClass(task) {
  return task.ready ? "ready" : task.final ? "failed" : "working";
}

function preview(task) {
  if (!task.media) return el("div", { class: "thumb" });
  let node = media.get(task.id);
  if (!node) {
    node = task.video
      ? el("video", { class: "thumb", src: task.media, muted: "", loop: "", autoplay: "", playsinline: "" })
      : el("img", { class: "thumb", src: task.media, alt: `result of ${task.id}` });
    if (task.video) node.muted = true;
    media.set(task.id, node);
  }
  return el("a", { href: task.media, target: "_blank", rel: "noopener" }, node);
}

function renderTasks(tasks) {
  count("#tasks-count", tasks);
  const rows = tasks.rows.map((task) =>
    el("tr", { "data-id": task.id },
      el("td", {}, preview(task)),
      el("td", {}, el("span", { class: `status ${statusClass(task)}`, text: task.status })),
      el("td", {}, el("code", { text: task.id }), el("div", { class: "small", text: task.endpoint })),
      el("td", { class: "prompt", text: task.prompt }),
      el("td", { class: "mono", text: String(task.seed) }),
      el("td", { text: `${task.width}×${task.height} ${task.format}` + (task.duration ? ` · ${task.duration} s` : "") }),
      el("td", { class: "small", text: `created ${clock(task.created_at)}` },
        el("div", { text: task.finished_at ? `done in ${seconds(task.created_at, task.finished_at)}` : `${task.polls} polls` })),
      el("td", { class: "num", text: task.charged ? String(task.cost) : task.final ? "not charged" : `${task.cost} (quoted)` }),
      el("td", { text: task.reason || "" })));
  $("#tasks tbody").replaceChildren(...rows);
}

function renderCalls(calls) {
  count("#calls-count", calls);
  const rows = calls.rows.map((call) => {
    const row = el("tr", { class: call.verdict, "data-key": call.key },
      el("td", { class: "small", text: clock(call.at) }),
      el("td", { text: call.method }),
      el("td", { class: "mono", text: call.target }),
      el("td", { text: String(call.status) }),
      el("td", { text: call.verdict }),
      el("td", { text: call.problems.join("; ") }));
    row.addEventListener("click", () => openCall(call.key));
    return row;
  });
  $("#calls tbody").replaceChildren(...rows);
}

function renderWebhooks(webhooks) {
  count("#webhooks-count", webhooks);
  const rows = webhooks.rows.map((hook) =>
    el("tr", {},
      el("td", {}, el("code", { text: hook.task_id })),
      el("td", { class: "mono", text: hook.url }),
      el("td", { text: hook.state + (hook.note ? ` (${hook.note})` : "") }),
      el("td", {}, el("ol", {}, ...hook.attempts.map((attempt) =>
        el("li", { text: `${clock(attempt.at)} → ${attempt.status ?? attempt.error}` }))))));
  $("#webhooks tbody").replaceChildren(...rows);
}

function renderBalances(balances) {
  $("#balances tbody").replaceChildren(...balances.map((b) =>
    el("tr", {}, el("td", { class: "mono", text: b.key }), el("td", { class: "num", text: String(b.credits) }))));
  $("#balances-empty").hidden = balances.length > 0;
}

function renderStatuses(statuses) {
  const select = $("#status-filter");
  if (select.options.length > 1) return;
  select.append(...statuses.map((status) => el("option", { value: status, text: status })));
}

function render(state) {
  renderStatuses(state.statuses);
  if (!scenarioEdited) $("#scenario-text").value = state.scenario;
  renderBalances(state.balances);
  renderTasks(state.tasks);
  renderCalls(state.calls);
  renderWebhooks(state.webhooks);
  const shown = new Set(state.tasks.rows.map((task) => task.id));
  for (const id of media.keys()) if (!shown.has(id)) media.delete(id);
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

async function openCall(key) {
  const answer = await fetch(`calls/${encodeURIComponent(key)}`);
  const call = await answer.json();
  const body = $("#detail-body");
  if (!answer.ok) {
    body.replaceChildren(el("p", { text: call.detail }));
  } else {
    const target = call.path + (call.query ? `?${call.query}` : "");
    $("#detail-title").textContent = `${call.method} ${target} → ${call.status}`;
    const parts = [
      el("p", { text: `${call.verdict}${call.operation_id ? ` · ${call.operation_id}` : ""} · ${clock(call.at)}` }),
      call.problems.length ? el("h3", { text: "Why refused" }) : null,
      call.problems.length ? el("ul", { class: "problems" }, ...call.problems.map((p) => el("li", { text: p }))) : null,
      el("h3", { text: "Request headers" }),
      el("pre", { text: call.headers.map(([name, value]) => `${name}: ${value}`).join("\n") }),
      el("h3", { text: "Request body" }),
      el("pre", { class: "request-body", text: pretty(call.body) || "(empty)" }),
      el("h3", { text: `Response ${call.status}` }),
      el("pre", { class: "response-body", text: pretty(call.response_body) || "(empty)" }),
      call.response_problems.length ? el("h3", { text: "Where the mock's answer broke the spec" }) : null,
      call.response_problems.length ? el("ul", { class: "problems" }, ...call.response_problems.map((p) => el("li", { text: p }))) : null,
    ];
    body.replaceChildren(...parts.filter((part) => part !== null));
  }
  $("#detail").showModal();
}

async function sendScenario(method) {
  const message = $("#scenario-message");
  const answer = await fetch("scenario", { method, body: method === "PUT" ? $("#scenario-text").value : null });
  if (answer.ok) {
    scenarioEdited = false;
    if (method === "DELETE") $("#scenario-text").value = "";
    message.className = "ok";
    message.textContent = method === "PUT" ? "Applied." : "Cleared.";
  } else {
    message.className = "error";
    message.textContent = (await answer.json()).detail;
  }
}

function connect() {
  if (source) source.close();
  const params = new URLSearchParams();
  const search = $("#search").value.trim();
  if (search) params.set("q", search);
  if ($("#status-filter").value) params.set("status", $("#status-filter").value);
  if ($("#verdict-filter").value) params.set("verdict", $("#verdict-filter").value);
  const query = params.toString();
  source = new EventSource(query ? `events?${query}` : "events");
  source.addEventListener("snapshot", (event) => {
    render(JSON.parse(event.data));
    live(true);
  });
  source.addEventListener("open", () => live(true));
  source.addEventListener("error", () => live(false));
}

function live(on) {
  $("#live").className = `live ${on ? "on" : "off"}`;
  $("#live").textContent = on ? "live" : "reconnecting…";
}

let typing = null;
$("#search").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(connect, 250);
});
$("#status-filter").addEventListener("change", connect);
$("#verdict-filter").addEventListener("change", connect);
$("#scenario-text").addEventListener("input", () => { scenarioEdited = true; });
$("#scenario-apply").addEventListener("click", () => sendScenario("PUT"));
$("#scenario-clear").addEventListener("click", () => sendScenario("DELETE"));
$("#detail-close").addEventListener("click", () => $("#detail").close());
connect();
