// Balance alerts as they arrive: low balance, depleted, subscription credits expiring soon,
// an automatic top-up whose payment failed.
// The alert stream (server-sent events over fetch, like the balance) starts once app.js has
// started the page (body[data-ready]); it reuses app.js's page, events, number and when.
"use strict";

const ALERTS_SHOWN = 5;
const alertText = {
  low_balance: (a) => ["Low balance:", `${number.format(a.balance.total)} credits left ` +
    `(your line is ${number.format(a.threshold_credits)}).`],
  depleted: () => ["Out of credits:", "buy a package or wait for your renewal."],
  top_up_failed: (a) => ["Automatic top-up failed:", `${a.reason || "the payment failed"}. ` +
    "It is retried a few times; after the last, top-ups stay off until you save a new card."],
  subscription_expiring_soon: (a) => ["Credits expiring soon:",
    `${number.format(a.balance.subscription)} subscription credits expire ${when(a.expires_at, moment)}.`],
};

function showAlert(alert) {
  const [title, text] = (alertText[alert.kind] || (() => [alert.kind, ""]))(alert);
  const item = document.createElement("li");
  item.className = "alert " + alert.kind;
  item.dataset.kind = alert.kind;
  const strong = document.createElement("strong");
  strong.textContent = title;
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.textContent = "×";
  dismiss.title = "Dismiss";
  dismiss.addEventListener("click", () => item.remove());
  item.append(strong, " " + text, dismiss);
  const box = document.getElementById("alerts");
  box.prepend(item);
  while (box.children.length > ALERTS_SHOWN) box.lastElementChild.remove();
}

async function followAlerts() {
  const box = document.getElementById("alerts");
  for (let delay = 500; ; delay = Math.min(delay * 2, 10000)) {
    try {
      const response = await fetch(accountPath("/alerts/stream"), {
        headers: { Authorization: "Bearer " + page.token, Accept: "text/event-stream" },
        cache: "no-store",
      });
      if (response.status === 401 || response.status === 403) return;
      if (response.ok) {
        box.dataset.state = "on";
        delay = 250;
        await events(response.body, (name, data) => name === "alert" && showAlert(JSON.parse(data)));
      }
    } catch (error) {
      console.warn("alert stream:", error);
    }
    box.dataset.state = "off";
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

if (document.body.dataset.ready === "true") {
  followAlerts();
} else {
  new MutationObserver((_, observer) => {
    if (document.body.dataset.ready !== "true") return;
    observer.disconnect();
    followAlerts();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
}
