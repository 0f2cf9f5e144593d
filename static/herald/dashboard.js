/**
 * The dashboard's page glue: live inbox, unread badge, toasts, desktop notifications,
 * one-click subscriptions, token copy. Talks to Herald only through its public REST API
 * (session + CSRF header) and the WebSocket client in ./client.js.
 *
 * Every piece of server text goes into the page through textContent or attribute setters,
 * never through HTML parsing, so notification text always shows as text.
 */
import { HeraldClient, sessionTicket } from "./client.js";

const LEVELS = new Set(["info", "success", "warning", "error"]);
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

document.documentElement.classList.add("js");

/** Call the REST API with the session; resolves to parsed JSON (or null for 204). */
async function api(method, path) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

// --- Announcements, toasts, desktop notifications ------------------------------------------

function announce(text) {
  const region = $("#announcer");
  region.textContent = "";
  // A fresh text node after a tick makes screen readers announce repeats too.
  setTimeout(() => { region.textContent = text; }, 30);
}

function toast(n) {
  const box = $("#toasts");
  const el = document.createElement("div");
  el.className = `toast level-${LEVELS.has(n.level) ? n.level : "info"}`;
  const title = document.createElement("strong");
  title.textContent = n.title;
  const where = document.createElement("span");
  where.textContent = n.channel ? `#${n.channel}` : "direct";
  el.append(title, where);
  el.addEventListener("click", () => el.remove());
  box.prepend(el);
  while (box.children.length > 3) box.lastElementChild.remove();
  setTimeout(() => el.remove(), 6000);
}

const desktop = {
  button: $("#desktop-toggle"),
  get wanted() { return localStorage.getItem("herald.desktop") === "on"; },
  init() {
    if (!this.button || !("Notification" in window)) return;
    this.button.hidden = false;
    this.button.addEventListener("click", () => this.toggle());
    this.render();
  },
  async toggle() {
    if (Notification.permission === "default") await Notification.requestPermission();
    if (Notification.permission === "granted") localStorage.setItem("herald.desktop", this.wanted ? "off" : "on");
    this.render();
  },
  render() {
    const p = Notification.permission;
    this.button.disabled = p === "denied";
    this.button.textContent = p === "denied" ? "Desktop notifications blocked"
      : p === "granted" && this.wanted ? "Turn off desktop notifications" : "Enable desktop notifications";
  },
  show(n) {
    if (!this.wanted || !("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible") return; // the toast is enough
    // One tag per notification: several open tabs make one desktop notification, not many.
    const note = new Notification(n.title, { body: n.body, tag: `herald-${n.id}` });
    note.onclick = () => { window.focus(); note.close(); };
  },
};

// --- Unread badge ---------------------------------------------------------------------------

const badge = {
  el: $("#unread-badge"),
  count: Number(document.body.dataset.unread || 0),
  set(count) {
    this.count = Math.max(0, count);
    if (!this.el) return;
    this.el.textContent = String(this.count);
    this.el.dataset.count = String(this.count);
    this.el.setAttribute("aria-label", `${this.count} unread`);
    this.el.hidden = this.count === 0;
    document.title = document.title.replace(/^\(\d+\) /, "") ;
    if (this.count) document.title = `(${this.count}) ${document.title}`;
  },
};

// --- Time -----------------------------------------------------------------------------------

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const exact = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

function formatRelative(date) {
  const seconds = (date.getTime() - Date.now()) / 1000;
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

function refreshTimes(root = document) {
  for (const el of $$("time.when[datetime]", root)) {
    const date = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    el.textContent = formatRelative(date);
    el.title = exact.format(date);
  }
}

// --- Notification items ---------------------------------------------------------------------

/** A feed item built from the page's <template> (the same markup the server renders). */
function renderItem(n, { read = false, readonly = false } = {}) {
  const template = $("#item-template");
  const li = template
    ? template.content.firstElementChild.cloneNode(true)
    : $("#history li")?.cloneNode(true) ?? null;
  if (!li) return null;
  const level = LEVELS.has(n.level) ? n.level : "info";
  li.className = `item level-${level}${read ? "" : " unread"}`;
  li.id = `n-${n.id}`;
  li.dataset.id = String(n.id);
  li.dataset.channel = n.channel ?? "";
  $(".level-name", li).textContent = level;
  $(".title", li).textContent = n.title;
  $(".channel", li).textContent = n.channel ? `#${n.channel}` : "direct";
  const body = $(".body", li);
  body.textContent = n.body;
  body.hidden = !n.body;
  const time = $("time.when", li);
  time.setAttribute("datetime", n.created_at);
  const created = new Date(n.created_at);
  $(".exact", li).textContent = Number.isNaN(created.getTime()) ? n.created_at : created.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  $(".nid", li).textContent = String(n.id);
  const data = $(".data", li);
  const hasData = n.data && typeof n.data === "object" && Object.keys(n.data).length > 0;
  data.textContent = hasData ? JSON.stringify(n.data, null, 2) : "";
  data.hidden = !hasData;
  const form = $(".read-form", li);
  if (form && readonly) form.remove();
  else if (form) {
    form.action = `/notifications/${encodeURIComponent(n.id)}/read/`;
    $(".mark-read", form).hidden = read;
  }
  refreshTimes(li);
  return li;
}

function showRead(li) {
  li.classList.remove("unread");
  const button = $(".mark-read", li);
  if (button) button.hidden = true;
}

const feed = $("#feed");
const history = $("#history");

function place(n) {
  if (document.getElementById(`n-${n.id}`)) return;
  if (feed && feed.dataset.live && (!feed.dataset.channel || feed.dataset.channel === n.channel)) {
    const li = renderItem(n);
    if (li) {
      feed.prepend(li);
      $("#empty").hidden = true;
    }
  }
  if (history && history.dataset.channel === n.channel) {
    const li = renderItem(n, { read: true, readonly: true });
    if (li) history.prepend(li);
  }
}

function onNotification({ notification: n, replay }) {
  const known = document.getElementById(`n-${n.id}`);
  if (!known) badge.set(badge.count + 1);
  place(n);
  if (!replay) {
    announce(`New ${n.level} notification${n.channel ? ` on ${n.channel}` : ""}: ${n.title}`);
    toast(n);
    desktop.show(n);
  }
}

// --- Inbox actions --------------------------------------------------------------------------

function initInbox() {
  if (!feed) return;
  feed.addEventListener("submit", async (event) => {
    const form = event.target.closest(".read-form");
    if (!form) return;
    event.preventDefault();
    const li = form.closest(".item");
    const { unread } = await api("POST", `/api/v1/notifications/${li.dataset.id}/read/`);
    showRead(li);
    badge.set(unread);
  });
  $("#read-all-form")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { unread } = await api("POST", "/api/v1/notifications/read-all/");
    badge.set(unread);
    $$(".item.unread", feed).forEach(showRead);
  });
  const filters = $("#filters");
  filters?.addEventListener("change", () => filters.requestSubmit());
  const older = $("#older");
  older?.addEventListener("click", async (event) => {
    event.preventDefault();
    older.setAttribute("aria-busy", "true");
    const params = new URLSearchParams({ before: older.dataset.before, limit: "50" });
    if (feed.dataset.channel) params.set("channel", feed.dataset.channel);
    if (feed.dataset.unreadOnly) params.set("unread", "1");
    const page = await api("GET", `/api/v1/notifications/?${params}`);
    for (const n of page.results) {
      if (!document.getElementById(`n-${n.id}`)) feed.append(renderItem(n, { read: n.read }));
    }
    older.removeAttribute("aria-busy");
    if (page.next && page.results.length) older.dataset.before = String(page.results.at(-1).id);
    else older.parentElement.remove();
  });
}

// --- Channels -------------------------------------------------------------------------------

/** Show a subscription state; idempotent, so the REST answer and the socket frame may both come. */
function showSubscription(slug, subscribed) {
  for (const card of $$(".channel-card")) {
    if (card.dataset.slug !== slug || (card.dataset.subscribed === "1") === subscribed) continue;
    card.dataset.subscribed = subscribed ? "1" : "";
    const count = $(".count .n", card);
    const n = Math.max(0, Number(count.textContent) + (subscribed ? 1 : -1));
    count.textContent = String(n);
    $(".count .plural", card).textContent = n === 1 ? "" : "s";
    const button = $(".sub-button", card);
    button.textContent = subscribed ? "Unsubscribe" : "Subscribe";
    button.classList.toggle("secondary", subscribed);
    button.setAttribute("aria-pressed", String(subscribed));
    $('input[name="action"]', card).value = subscribed ? "unsubscribe" : "subscribe";
  }
}

function initChannels() {
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest(".sub-form");
    if (!form) return;
    event.preventDefault();
    const card = form.closest(".channel-card");
    const subscribe = $('input[name="action"]', form).value === "subscribe";
    const button = $(".sub-button", form);
    button.disabled = true;
    try {
      await api(subscribe ? "POST" : "DELETE", `/api/v1/channels/${encodeURIComponent(card.dataset.slug)}/subscription/`);
      showSubscription(card.dataset.slug, subscribe);
      announce(`${subscribe ? "Subscribed to" : "Unsubscribed from"} ${card.dataset.slug}`);
    } finally {
      button.disabled = false;
    }
  });
}

// --- Tokens ---------------------------------------------------------------------------------

function initCopy() {
  for (const button of $$("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const input = $(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(input.value);
      } catch {
        input.select();
        document.execCommand("copy");
      }
      button.textContent = "Copied";
      announce("Key copied to the clipboard");
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }
}

// --- Live connection ------------------------------------------------------------------------

const STATUS_TEXT = {
  connecting: "Connecting…", connected: "Live", reconnecting: "Reconnecting…", stopped: "Offline",
  unauthorized: "Signed out",
};

function initLive() {
  const since = document.body.dataset.since;
  const client = new HeraldClient("/ws/notifications/", {
    ticket: () => sessionTicket({ csrfToken }),
    since: since ? Number(since) : null,
  });
  const conn = $("#conn");
  client.addEventListener("status", ({ detail }) => {
    conn.dataset.state = detail.state;
    $(".conn-text", conn).textContent = STATUS_TEXT[detail.state] ?? detail.state;
    conn.title = detail.state === "reconnecting" && detail.delay
      ? `Connection lost; retrying in ${Math.ceil(detail.delay / 1000)} s` : "Live connection";
  });
  client.addEventListener("notification", ({ detail }) => onNotification(detail));
  client.addEventListener("replayed", async ({ detail }) => {
    if (!detail.reconnect) return;
    if (detail.count) announce(`${detail.count} notification${detail.count === 1 ? "" : "s"} arrived while offline`);
    // Reads made elsewhere while this page was away were not pushed to it.
    const { unread } = await api("GET", "/api/v1/notifications/unread-count/");
    badge.set(unread);
  });
  client.addEventListener("unread_count", ({ detail }) => {
    badge.set(detail.unread);
    if (detail.unread === 0 && feed) $$(".item.unread", feed).forEach(showRead);
  });
  client.addEventListener("subscribed", ({ detail }) => showSubscription(detail.channel, true));
  client.addEventListener("unsubscribed", ({ detail }) => showSubscription(detail.channel, false));
  client.start();
  window.heraldClient = client; // for the console and for other scripts on the page
}

if (csrfToken) {
  badge.set(badge.count);
  refreshTimes();
  setInterval(refreshTimes, 30000);
  desktop.init();
  initInbox();
  initChannels();
  initCopy();
  initLive();
}
