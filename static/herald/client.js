/**
 * Herald browser client: one small ES module, no dependencies.
 *
 * Keeps one WebSocket to Herald's `/ws/notifications/` open: authenticates with a fresh
 * single-use ticket on every attempt, resumes with `since=<last id seen>` after any drop,
 * reconnects with exponential backoff and full jitter, and checks liveness with pings.
 * Notifications are delivered once each, in id order, across reconnects.
 *
 * @example
 *   import { HeraldClient, sessionTicket } from "/static/herald/client.js";
 *   const client = new HeraldClient("/ws/notifications/", {
 *     ticket: () => sessionTicket({ csrfToken }),  // or any async () => ticket string
 *     since: 0,                                     // optional: replay everything after id 0
 *   });
 *   client.addEventListener("notification", (e) => console.log(e.detail.notification));
 *   client.addEventListener("status", (e) => console.log(e.detail.state));
 *   client.start();
 *
 * Events (all CustomEvent; payload in `event.detail`):
 *   status        {state, attempt, delay}: "connecting" | "connected" | "reconnecting" | "stopped" | "unauthorized"
 *   welcome       the server's welcome frame ({user, channels, last_id})
 *   notification  {notification, replay}: each notification once, ids strictly increasing;
 *                 `replay` is true for those delivered by a `since` replay
 *   replayed      {count, reconnect}: a replay finished; after it, everything is live
 *   unread_count, subscribed, unsubscribed, published, error: the server frames as sent
 *   frame         every frame, as parsed JSON
 */

/** Thrown by a ticket function to say "signed out": the client stops instead of retrying. */
export class AuthError extends Error {}

/**
 * Fetch a WebSocket ticket with the browser's session (Django's CSRF header included).
 * @param {{csrfToken: string, endpoint?: string}} options
 * @returns {Promise<string>}
 */
export async function sessionTicket({ csrfToken, endpoint = "/api/v1/ws-tickets/" }) {
  const response = await fetch(endpoint, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
  });
  if (response.status === 401 || response.status === 403) throw new AuthError(`ticket refused (${response.status})`);
  if (!response.ok) throw new Error(`ticket request failed (${response.status})`);
  return (await response.json()).ticket;
}

const FATAL_CLOSE_CODES = new Set([4400]); // a bad `since`: retrying cannot help

export class HeraldClient extends EventTarget {
  /**
   * @param {string} url  WebSocket URL; a path such as "/ws/notifications/" is resolved against the page.
   * @param {object} [options]
   * @param {() => Promise<string>} [options.ticket]  async function returning a fresh ticket (omit to rely on the session cookie)
   * @param {number|null} [options.since]  replay inbox notifications after this id on the first connect
   * @param {number} [options.minDelay=500]  first reconnect delay, ms
   * @param {number} [options.maxDelay=10000]  longest reconnect delay, ms
   * @param {number} [options.pingInterval=25000]  ms between heartbeats (jittered by ±20 %)
   * @param {number} [options.pongTimeout=10000]  ms without any frame after a ping before the socket counts as dead
   */
  constructor(url, { ticket = null, since = null, minDelay = 500, maxDelay = 10000, pingInterval = 25000,
    pongTimeout = 10000 } = {}) {
    super();
    this.url = url;
    this.options = { ticket, minDelay, maxDelay, pingInterval, pongTimeout };
    this.lastId = Number.isInteger(since) && since >= 0 ? since : null;
    this.state = "stopped";
    this.attempt = 0;
    this._ws = null;
    this._timers = {};
    this._replaying = false;
    this._connects = 0;
    this._onOnline = () => { if (this.state === "reconnecting") this._retryNow(); };
  }

  /** Open the connection (and keep it open until stop()). */
  start() {
    if (this.state !== "stopped" && this.state !== "unauthorized") return;
    addEventListener("online", this._onOnline);
    this._open();
  }

  /** Close the connection for good. */
  stop() {
    removeEventListener("online", this._onOnline);
    this._clearTimers();
    const ws = this._ws;
    this._ws = null;
    if (ws) ws.close(1000);
    this._setState("stopped");
  }

  /** Send a protocol frame (e.g. `{type: "subscribe", channel}`); false when not connected. */
  send(frame) {
    if (!this._ws || this._ws.readyState !== WebSocket.OPEN) return false;
    this._ws.send(JSON.stringify(frame));
    return true;
  }

  async _open() {
    this._setState(this._connects || this.attempt ? "reconnecting" : "connecting");
    const url = new URL(this.url, location.href);
    url.protocol = url.protocol.replace(/^http/, "ws");
    try {
      if (this.options.ticket) url.searchParams.set("ticket", await this.options.ticket());
    } catch (error) {
      if (error instanceof AuthError) return this._setState("unauthorized");
      return this._scheduleReconnect();
    }
    if (this.state === "stopped") return;
    if (this.lastId !== null) url.searchParams.set("since", String(this.lastId));
    const ws = new WebSocket(url);
    this._ws = ws;
    ws.onmessage = (event) => { if (this._ws === ws) this._receive(event.data); };
    ws.onclose = (event) => { if (this._ws === ws) this._dropped(event.code); };
  }

  _receive(text) {
    let frame;
    try { frame = JSON.parse(text); } catch { return; }
    this._armHeartbeat();
    this._emit("frame", frame);
    switch (frame.type) {
      case "welcome":
        this._replaying = this.lastId !== null;
        if (this.lastId === null) this.lastId = frame.last_id;
        this.attempt = 0;
        this._connects += 1;
        this._emit("welcome", frame);
        this._setState("connected");
        break;
      case "notification":
        // A replay may repeat ids already seen; live ids only increase. Either way: once.
        if (this.lastId !== null && frame.id <= this.lastId) return;
        this.lastId = frame.id;
        this._emit("notification", { notification: frame, replay: this._replaying });
        break;
      case "replayed":
        this._replaying = false;
        this._emit("replayed", { count: frame.count, reconnect: this._connects > 1 });
        break;
      case "pong":
        break;
      default:
        this._emit(frame.type, frame);
    }
  }

  _dropped(code) {
    this._ws = null;
    this._clearTimers();
    if (this.state === "stopped") return;
    if (FATAL_CLOSE_CODES.has(code)) return this._setState("stopped");
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.state === "stopped") return;
    // Exponential backoff with jitter: spread reconnecting tabs out after a server restart.
    const ceiling = Math.min(this.options.maxDelay, this.options.minDelay * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    this.attempt += 1;
    this._setState("reconnecting", delay);
    this._timers.retry = setTimeout(() => this._open(), delay);
  }

  _retryNow() {
    clearTimeout(this._timers.retry);
    this._open();
  }

  _armHeartbeat() {
    clearTimeout(this._timers.ping);
    clearTimeout(this._timers.dead);
    const { pingInterval, pongTimeout } = this.options;
    const wait = pingInterval * (0.8 + Math.random() * 0.4);
    this._timers.ping = setTimeout(() => {
      if (!this.send({ type: "ping" })) return;
      this._timers.dead = setTimeout(() => {
        // No answer: the connection is dead even if the browser has not noticed yet.
        const ws = this._ws;
        this._dropped(4000);
        ws?.close();
      }, pongTimeout);
    }, wait);
  }

  _clearTimers() {
    for (const id of Object.values(this._timers)) clearTimeout(id);
    this._timers = {};
  }

  _setState(state, delay = 0) {
    this.state = state;
    this._emit("status", { state, attempt: this.attempt, delay });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
