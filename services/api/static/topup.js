// The automatic top-up panel: the saved card (saved at the payment provider's setup page, which
// comes back with ?card=saved), the rule (threshold, package, monthly cap), turned on with
// POST /accounts/{id}/auto-top-up and off with POST .../auto-top-up/off. Top-ups themselves show in the activity
// list and the balance, as any purchase does. Starts once app.js has started the page
// (body[data-ready]); reuses app.js's $, api, accountPath, page, number, say and sayRefusal.
"use strict";

// The projector publishes a balance just before its read model commits it: details read at
// once may be a version older than the balance on screen, and are read again a moment later.
const STALE_RETRY_MS = 100;
const STALE_RETRIES = 20;

async function loadTopUp() {
  let d;
  for (let tries = 0; ; tries++) {
    try {
      d = await api(accountPath());
    } catch (error) {
      if (error.status !== 404) throw error;
      return; // not opened yet: nothing to show
    }
    if (d.version >= page.version || tries >= STALE_RETRIES) break;
    await new Promise((resolve) => setTimeout(resolve, STALE_RETRY_MS));
  }
  const t = d.auto_top_up;
  $("card-saved").textContent = !t.card_last4 ? "No card saved."
    : t.card_declined ? `Card ending ${t.card_last4} was declined: save a new card.`
      : `Card ending ${t.card_last4}.`;
  $("card-saved").dataset.last4 = t.card_last4 || "";
  const pkg = t.package && page.packages[t.package];
  $("top-up-status").textContent = !t.on ? "Off." :
    `On: ${pkg ? pkg.name : t.package} when credits fall below ${number.format(t.threshold_credits)}, ` +
    `at most ${t.max_per_month} a month` + (t.in_flight ? " · a top-up is on its way." : ".");
  $("top-up-status").dataset.on = String(t.on);
}

async function topUpCommand(path, body) {
  const key = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now();
  try {
    await api(accountPath(path), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(body),
    });
    say("ok", path.endsWith("/off") ? "Automatic top-up is off." : "Automatic top-up is on.");
  } catch (error) {
    if (!error.body) throw error;
    sayRefusal(error);
  }
  await loadTopUp();
}

async function saveCard() {
  try {
    const setup = await api(accountPath("/card-setups"), { method: "POST" });
    location.assign(setup.setup_url);
  } catch (error) {
    if (!error.body) throw error;
    sayRefusal(error);
  }
}

function startTopUp() {
  $("top-up-package").replaceChildren(...Object.values(page.packages).map(
    (p) => new Option(`${p.name} · ${number.format(p.credits)} credits`, p.package)));
  $("save-card").addEventListener("click", () => saveCard().catch(console.error));
  $("top-up-off").addEventListener("click", () => topUpCommand("/auto-top-up/off", {}).catch(console.error));
  $("auto-top-up").addEventListener("submit", (event) => {
    event.preventDefault();
    topUpCommand("/auto-top-up", {
      threshold_credits: Number($("top-up-threshold").value),
      package: $("top-up-package").value,
      max_per_month: Number($("top-up-max").value),
    }).catch(console.error);
  });
  const query = new URLSearchParams(location.search);
  if (query.has("card")) {
    query.delete("card");
    history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : "") + location.hash);
    say("ok", "Card saved", "for automatic top-ups.");
  }
  loadTopUp().catch(console.error);
  // Whatever changes the rule or the card also changes the account's version: re-read then.
  new MutationObserver(() => loadTopUp().catch(console.error))
    .observe($("balance"), { attributes: true, attributeFilter: ["data-version"] });
}

if (document.body.dataset.ready === "true") {
  startTopUp();
} else {
  new MutationObserver((_, observer) => {
    if (document.body.dataset.ready !== "true") return;
    observer.disconnect();
    startTopUp();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
}
