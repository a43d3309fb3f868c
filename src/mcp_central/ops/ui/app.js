// The mcp-central dashboard: asks api/state every second with the admin token the operator typed
// (kept in this tab's sessionStorage) and redraws. Data goes into the page as text only
// (textContent, SVG attributes), never as HTML.
"use strict";

const KEY = "mcp-central-token";
const POLL_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
let timer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function badge(text) {
  return el("span", { class: "badge " + text }, text);
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.floor(seconds);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}

function clock(epoch) {
  return new Date(epoch * 1000).toLocaleTimeString([], { hour12: false });
}

function table(headers, rows, empty) {
  const head = el("tr", {}, ...headers.map(([label, cls]) => el("th", { class: cls }, label)));
  const body = rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: headers.length }, empty))];
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

function upstreams(state) {
  const rows = state.upstreams.map((u) =>
    el("tr", { "data-server": u.name, "data-state": u.state },
      el("td", {}, u.name), el("td", {}, u.transport), el("td", { class: "state" }, badge(u.state)),
      el("td", { class: "num" }, u.tools ?? "–"), el("td", { class: "num" }, u.restarts),
      el("td", { class: "num" }, ago(u.inStateSeconds)), el("td", { class: "num" }, u.sessions),
      el("td", { class: "error" }, u.lastError || "")));
  return el("section", { id: "upstreams" }, el("h2", {}, "Upstreams"),
    table([["server"], ["transport"], ["state"], ["tools", "num"], ["restarts", "num"],
      ["in state", "num"], ["sessions", "num"], ["last error"]], rows, "no upstreams configured"));
}

function routes(state) {
  const rows = state.routes.map((r) =>
    el("tr", { "data-route": r.route }, el("td", {}, r.route), el("td", { class: "num" }, r.sessions),
      el("td", {}, Object.entries(r.byTransport).map(([t, n]) => t + ": " + n).join(", "))));
  return el("section", { id: "routes" }, el("h2", {}, "Sessions per route"),
    table([["route"], ["sessions", "num"], ["transports"]], rows, "no routes"));
}

function short(value) {
  if (value === null || value === undefined) return "–";
  return value >= 100 ? String(Math.round(value)) : String(+value.toPrecision(3));
}

function path(points, key, max, width, height) {
  // One SVG path; a step without calls (null) breaks the line, and a lone point is a short dash.
  let d = "";
  points.forEach((p, i) => {
    const v = p[key];
    if (v === null || v === undefined) return;
    const x = points.length > 1 ? (i / (points.length - 1)) * width : 0;
    const y = height - 2 - (max > 0 ? (v / max) * (height - 4) : 0);
    const joined = i > 0 && points[i - 1][key] !== null && points[i - 1][key] !== undefined;
    d += joined ? `L${x.toFixed(1)} ${y.toFixed(1)}` : `M${(x - 2).toFixed(1)} ${y.toFixed(1)}h2`;
  });
  return d;
}

function chart(points, keys, unit) {
  const width = 300;
  const height = 64;
  const max = Math.max(0, ...points.flatMap((p) => keys.map((k) => p[k] ?? 0)));
  const graph = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none",
    role: "img", "aria-label": keys.join(", ") });
  for (const key of keys) {
    const d = path(points, key, max, width, height);
    if (d) graph.append(svg("path", { d, class: key, "vector-effect": "non-scaling-stroke" }));
  }
  const last = [...points].reverse().find((p) => keys.some((k) => p[k])) || {};
  const latest = keys.map((k) => k + " " + short(last[k])).join(" · ");
  return [el("div", { class: "legend" }, `${latest} ${unit} (max ${short(max)})`), graph];
}

function charts(state) {
  const servers = Object.entries(state.series.servers);
  const minutes = Math.round((servers.length ? servers[0][1].length : 60) * state.series.step / 60);
  const cards = servers.map(([name, points]) =>
    el("div", { class: "chart", "data-server": name }, el("h3", {}, name),
      ...chart(points, ["rate"], "calls/s"), ...chart(points, ["p50", "p99"], "ms")));
  return el("section", { id: "charts" },
    el("h2", {}, `Calls per second and latency, last ${minutes} minutes`),
    cards.length ? el("div", { class: "charts" }, ...cards) : el("p", { class: "empty" }, "no calls yet"));
}

function recent(state) {
  const rows = state.recent.map((c) =>
    el("tr", { "data-call": "", "data-server": c.server, "data-outcome": c.outcome },
      el("td", {}, clock(c.at)), el("td", {}, c.identity || "–"), el("td", {}, c.route),
      el("td", {}, c.server || "–"), el("td", { class: "tool" }, c.target || c.method),
      el("td", { class: "num" }, c.durationMs.toFixed(1) + " ms"), el("td", {}, badge(c.outcome))));
  return el("section", { id: "recent" }, el("h2", {}, `Recent calls (last ${state.recent.length})`),
    el("div", { class: "recent" }, table([["time"], ["identity"], ["route"], ["server"], ["tool"],
      ["duration", "num"], ["outcome"]], rows, "no calls yet")));
}

function reload(state) {
  const r = state.lastReload;
  const body = [];
  if (!r) {
    body.push(el("p", { class: "empty" }, "no reload since start"));
  } else {
    body.push(el("p", {}, badge(r.ok ? "ok" : "failed"), " ", clock(r.at), " — ", r.reason || ""));
    if (r.summary) body.push(el("p", {}, typeof r.summary === "string" ? r.summary : JSON.stringify(r.summary)));
    for (const problem of r.problems || []) body.push(el("p", { class: "error" }, String(problem)));
  }
  return el("section", { id: "reload" }, el("h2", {}, "Last reload"), ...body);
}

function render(state) {
  const main = document.getElementById("dashboard");
  const scrolled = main.querySelector(".recent")?.scrollTop || 0;
  const signOut = el("button", { type: "button", id: "sign-out" }, "Sign out");
  signOut.addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(""); });
  main.replaceChildren(
    el("header", {}, el("h1", {}, state.name), el("span", { class: "meta" },
      `v${state.version} · up ${ago(state.uptimeSeconds)}`),
      el("span", { class: "live", id: "live" }, "updated " + clock(state.now)), signOut),
    upstreams(state),
    el("div", { class: "columns" }, routes(state), reload(state)),
    charts(state),
    recent(state));
  main.querySelector(".recent").scrollTop = scrolled;
  main.hidden = false;
  document.getElementById("login").hidden = true;
}

function showLogin(message) {
  clearTimeout(timer);
  document.getElementById("dashboard").hidden = true;
  document.getElementById("dashboard").replaceChildren();
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
  document.body.classList.remove("starting");
}

async function fetchState(token) {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const response = await fetch("api/state", { headers, cache: "no-store", credentials: "omit" });
  const body = await response.json().catch(() => ({}));
  return { status: response.status, body };
}

async function poll() {
  const token = sessionStorage.getItem(KEY);
  let answer;
  try {
    answer = await fetchState(token);
  } catch (error) {
    const live = document.getElementById("live");
    if (live) { live.textContent = "cannot reach the gateway — retrying"; live.classList.add("lost"); }
    timer = setTimeout(poll, 2 * POLL_MS);
    return;
  }
  document.body.classList.remove("starting");
  if (answer.status === 200) {
    render(answer.body);
    timer = setTimeout(poll, POLL_MS);
  } else if (answer.status === 401) {
    sessionStorage.removeItem(KEY);
    showLogin(token ? "The token is no longer accepted." : "");
  } else {
    showLogin(answer.body.detail || "The gateway answered HTTP " + answer.status + ".");
  }
}

async function signIn(event) {
  event.preventDefault();
  const input = document.getElementById("token");
  const token = input.value.trim();
  let answer;
  try {
    answer = await fetchState(token);
  } catch (error) {
    document.getElementById("login-error").textContent = "Cannot reach the gateway (or the token has characters a header cannot carry).";
    return;
  }
  if (answer.status !== 200) {
    document.getElementById("login-error").textContent =
      answer.status === 401 ? "This token is not accepted." : answer.body.detail || "HTTP " + answer.status;
    return;
  }
  sessionStorage.setItem(KEY, token);
  input.value = "";
  render(answer.body);
  timer = setTimeout(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", signIn);
  poll();
});
