// The account page: the sidebar's live balance and renewal date, its details (with the usage
// chart the server draws and the forecast), recent activity, and two actions.
//
// The token comes from the URL once (#token=... preferred: a fragment never reaches a server
// or its logs; ?token=... works too), is kept in this tab's sessionStorage, and is removed from
// the address bar. Every call sends it as "Authorization: Bearer". The live balance is the
// server-sent event stream read with fetch (EventSource cannot send that header); a balance is
// shown only if its version is newer than the one on screen, whoever changed it.
"use strict";

const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat("en-US");
const day = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "short", day: "numeric" });
// A renewal is a day in UTC, as the ledger's cycles are: shown the same in every time zone.
const utcDay = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
const moment = new Intl.DateTimeFormat("en-US", {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const page = { token: null, account: null, version: 0, balance: null, tools: {}, packages: {}, plans: {}, wake: null };

function fromUrl() {
  const query = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  for (const [name, storeAs] of [["token", "kalema.token"], ["account", "kalema.account"]]) {
    const value = fragment.get(name) || query.get(name);
    if (value) sessionStorage.setItem(storeAs, value);
    query.delete(name);
    fragment.delete(name);
  }
  const rest = (query.toString() ? "?" + query : "") + (fragment.toString() ? "#" + fragment : "");
  history.replaceState(null, "", location.pathname + rest);
  page.token = sessionStorage.getItem("kalema.token");
  page.account = sessionStorage.getItem("kalema.account");
}

async function api(path, options = {}) {
  const headers = { Authorization: "Bearer " + page.token, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw Object.assign(new Error(body?.message || response.status), { status: response.status, body });
  return body;
}

const accountPath = (suffix = "") => `/accounts/${encodeURIComponent(page.account)}${suffix}`;
const signed = (n) => (n > 0 ? "+" : n < 0 ? "−" : "") + (n ? number.format(Math.abs(n)) : "");
const when = (iso, format = day) => (iso ? format.format(new Date(iso)) : "never");

function cells(row, values) {
  for (const [text, cls] of values) {
    const td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
  }
}

function fill(table, items, toCells) {
  const body = $(table).tBodies[0];
  body.replaceChildren();
  for (const item of items) cells(body.insertRow(), toCells(item));
}

function list(dl, pairs) {
  $(dl).replaceChildren(...pairs.flatMap(([term, value]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    return [dt, dd];
  }));
}

// A balance (from GET /balance, the stream, or an outcome) is shown if it is newer.
function showBalance(b) {
  if (b.version <= page.version) return;
  page.version = b.version;
  $("balance-total").textContent = number.format(b.total);
  $("balance-subscription").textContent = number.format(b.subscription);
  $("balance-purchased").textContent = number.format(b.purchased);
  const notes = [];
  if (b.granted) notes.push(`${number.format(b.granted)} granted`);
  if (b.held) notes.push(`${number.format(b.held)} set aside`);
  $("balance-note").textContent = notes.join(" · ");
  page.balance = b;
  showRenewal();
  $("balance").dataset.version = b.version;
  $("balance").classList.remove("changed");
  void $("balance").offsetWidth; // restart the highlight
  $("balance").classList.add("changed");
  refreshSoon();
}

// The sidebar says when the plan renews: "Solo · renews Jan 1".
function showRenewal() {
  const b = page.balance;
  const plan = b?.plan ? page.plans[b.plan]?.name || b.plan : null;
  $("balance-renews").textContent = plan && b.cycle_end ? `${plan} · renews ${utcDay.format(new Date(b.cycle_end))}` : "";
}

// Every new balance refreshes what depends on it, the open details' chart and forecast
// included, once per burst of updates.
let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    loadHistory();
    if (!$("details").hidden) Promise.all([loadDetails(), loadChart()]).catch(console.error);
  }, 100);
}

async function loadBalance() {
  try {
    showBalance(await api(accountPath("/balance")));
  } catch (error) {
    if (error.status !== 404) throw error;
    $("balance-total").textContent = "0";
    $("balance-note").textContent = "No credits yet: buy a package to start.";
  }
}

async function loadHistory() {
  try {
    const history = await api(accountPath("/history?limit=10"));
    fill("history", history.entries, (e) => [
      [when(e.at, moment)],
      [e.what],
      [signed(e.subscription_change + e.purchased_change + e.granted_change), "num"],
      [number.format(e.total), "num"],
    ]);
  } catch (error) {
    if (error.status !== 404) throw error;
  }
}

async function loadDetails() {
  const d = await api(accountPath());
  const b = d.balance;
  list("breakdown", [
    ["Subscription", number.format(b.subscription)],
    ["Purchased", number.format(b.purchased)],
    ["Granted", number.format(b.granted)],
    ["Set aside", number.format(b.held)],
    ["Total", number.format(b.total)],
  ]);
  const plan = d.plan;
  list("plan", [
    ["Plan", plan ? `${plan.name} · ${number.format(plan.credits_per_cycle)} credits per month` : "none"],
    ["Renews", plan ? when(d.renewal_date) : "–"],
    ["Subscription credits expire", when(d.subscription_expires_at)],
    ...(plan?.pending_plan ? [["From next cycle", plan.pending_plan]] : []),
  ]);
  fill("lots", d.lots, (lot) => [
    [lot.kind], [lot.lot_id, "mono"], [number.format(lot.remaining), "num"],
    [number.format(lot.credits), "num"], [when(lot.expires_at)],
  ]);
  $("holds-block").hidden = d.holds.length === 0;
  fill("holds", d.holds, (h) => [[h.hold_id], [h.tool], [number.format(h.credits), "num"], [when(h.expires_at, moment)]]);
  $("forecast").textContent = d.forecast ? d.forecast.summary : "";
}

// The usage chart is SVG drawn by the server (no charting library in the page): fetched with
// the token, parsed as SVG, and put in place of the previous one.
async function loadChart() {
  const response = await fetch(accountPath("/usage/chart"), {
    headers: { Authorization: "Bearer " + page.token }, cache: "no-store",
  });
  if (!response.ok) return;
  const drawn = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
  const svg = drawn.documentElement;
  if (svg.nodeName !== "svg") return;
  $("usage-chart").replaceChildren(document.importNode(svg, true));
}

async function toggleDetails() {
  const open = $("details").hidden;
  if (open) await Promise.all([loadDetails(), loadChart()]);
  $("details").hidden = !open;
  $("balance").setAttribute("aria-expanded", String(open));
}

function say(kind, title, text = "") {
  const box = $("message");
  box.className = "message " + kind;
  const strong = document.createElement("strong");
  strong.textContent = title;
  box.replaceChildren(strong, document.createTextNode(text ? " " + text : ""));
  box.hidden = false;
}

function sayRefusal(error) {
  const p = error.body;
  if (error.status === 402) {
    const d = p.details;
    say("refused", p.message, `This needs ${number.format(d.required)} credits; you have ` +
      `${number.format(d.available)} (${number.format(d.subscription)} subscription, ` +
      `${number.format(d.purchased)} purchased). Buy a package or wait for your renewal.`);
  } else {
    say("error", p?.message || "Something went wrong", p?.code ? `(${p.code})` : String(error.status));
  }
}

async function command(path, body) {
  const key = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now();
  const outcome = await api(accountPath(path), {
    method: "POST",
    headers: { "Content-Type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify(body),
  });
  showBalance({ ...outcome.balance, version: outcome.stream_version });
  wake(); // an account opened by this command can now be streamed
  return outcome;
}

async function useTool(event) {
  event.preventDefault();
  const tool = $("tool").value;
  const units = Number($("units").value);
  try {
    const outcome = await command("/tool-uses", { tool, units });
    const paid = outcome.charged.map((d) => `${number.format(d.credits)} ${d.kind}`).join(" + ");
    const total = outcome.charged.reduce((sum, d) => sum + d.credits, 0);
    say("ok", `Used ${page.tools[tool].name} ×${units}:`, `${number.format(total)} credits (${paid}).`);
  } catch (error) {
    if (!error.body) throw error;
    sayRefusal(error);
  }
}

// Buying is a checkout at the payment provider: the page goes to the provider's page to pay,
// and comes back with ?checkout=<id>; the credits arrive when the provider confirms payment
// (the live balance shows them), never from this page.
async function buyPackage(event) {
  event.preventDefault();
  const offer = page.packages[$("package").value];
  try {
    const checkout = await api(accountPath("/checkouts"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ package: offer.package }),
    });
    sessionStorage.setItem("kalema.checkout", offer.package);
    location.assign(checkout.pay_url);
  } catch (error) {
    if (!error.body) throw error;
    sayRefusal(error);
  }
}

function backFromCheckout() {
  const query = new URLSearchParams(location.search);
  if (!query.has("checkout")) return;
  query.delete("checkout");
  history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : "") + location.hash);
  const offer = page.packages[sessionStorage.getItem("kalema.checkout")];
  sessionStorage.removeItem("kalema.checkout");
  say("ok", "Payment received:", offer ? `+${number.format(offer.credits)} purchased credits (${offer.name}).` : "your credits are on their way.");
}

async function loadCatalog() {
  const [tools, packages, plans] = await Promise.all(
    [api("/catalog/tools"), api("/catalog/packages"), api("/catalog/plans")]);
  for (const p of plans.plans) page.plans[p.plan] = p;
  showRenewal();
  $("tool").replaceChildren(...tools.tools.map((t) => {
    page.tools[t.tool] = t;
    return new Option(`${t.name} · ${t.credits} credit${t.credits === 1 ? "" : "s"}`, t.tool);
  }));
  $("package").replaceChildren(...packages.packages.map((p) => {
    page.packages[p.package] = p;
    const price = (p.price_cents / 100).toLocaleString("en-US", { style: "currency", currency: p.currency });
    return new Option(`${p.name} · ${number.format(p.credits)} credits · ${price}`, p.package);
  }));
}

// Server-sent events over fetch; reconnects with backoff, at once when woken.
function live(state, text) {
  $("live").dataset.state = state;
  $("live").textContent = text;
}

function wake() {
  if (page.wake) page.wake();
}

function pause(ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    page.wake = () => { clearTimeout(timer); resolve(); };
  });
}

async function follow() {
  for (let delay = 500; ; delay = Math.min(delay * 2, 10000)) {
    try {
      const response = await fetch(accountPath("/balance/stream"), {
        headers: { Authorization: "Bearer " + page.token, Accept: "text/event-stream" },
        cache: "no-store",
      });
      if (response.status === 401 || response.status === 403) return live("off", "not allowed");
      if (response.ok) {
        live("on", "live");
        delay = 250;
        await events(response.body, (name, data) => name === "balance" && showBalance(JSON.parse(data)));
      }
    } catch (error) {
      console.warn("balance stream:", error);
    }
    live("off", "reconnecting…");
    await pause(delay);
  }
}

async function events(body, handle) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = text;
        if (field === "data") data.push(text);
      }
      if (data.length) handle(name, data.join("\n"));
    }
  }
}

async function start() {
  fromUrl();
  const signin = (why) => {
    document.body.classList.add("signed-out");
    $("signin").hidden = false;
    if (why) say("error", why);
  };
  if (!page.token) return signin();
  try {
    const me = await api("/me");
    page.account = me.account_id || page.account;
  } catch (error) {
    sessionStorage.removeItem("kalema.token");
    return signin(error.status === 401 ? "That token was not accepted." : String(error));
  }
  if (!page.account) return signin("The service token needs an account: add #account=<id>.");
  $("account-id").textContent = page.account;
  $("balance").addEventListener("click", () => toggleDetails().catch(console.error));
  $("use-tool").addEventListener("submit", useTool);
  $("buy-package").addEventListener("submit", buyPackage);
  await Promise.all([loadCatalog(), loadBalance(), loadHistory()]);
  backFromCheckout();
  document.body.dataset.ready = "true";
  follow();
}

start().catch((error) => say("error", "The page could not start:", String(error)));
