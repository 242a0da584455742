// Session: the client's logic over a Connection and a ChatState — login and
// register, resume after a dropped connection (with backoff), events into
// state, acks, and the chat actions the UI calls. It never touches the DOM:
// it calls onChange() and the UI re-renders.
//
// Delivery rules (docs/protocol.md): every message event carries a `seq`;
// once a message is in the state (shown in its conversation or counted as
// unread) the client acks it — batched, cumulative ack of the highest seq —
// and it dedupes by message id, because a message not yet acked when the
// connection dropped is delivered again after `resume`.

import { Connection } from "./connection.js";
import { ChatState, friendKey, groupKey } from "./state.js";

const TOKEN_KEY = "parley.token";
const ACK_DELAY_MS = 200;
const PING_INTERVAL_MS = 60_000; // well inside the server's idle timeout
const MAX_BACKOFF_MS = 10_000;
const HISTORY_PAGE = 50;

export class Session {
  constructor(url, { onChange, onLoggedOut }) {
    this.state = new ChatState();
    this.status = "offline"; // offline | connecting | online | reconnecting
    this.onChange = onChange;
    this.onLoggedOut = onLoggedOut;
    this.connection = new Connection(url, {
      onEvent: (e) => this.onEvent(e),
      onState: (s) => this.onConnectionState(s),
    });
    this.loggedIn = false;
    this.ackedUpTo = 0;
    this.highestSeq = 0;
    this.ackTimer = null;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
  }

  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  // At page load: resume the tab's previous login if there is one.
  async start() {
    if (!this.token) return false;
    if (!(await this.connection.open())) {
      this.scheduleReconnect();
      return true;
    }
    return this.resume();
  }

  // Register (when `create`) then log in. Resolves to an error message or null.
  async login(name, password, create) {
    if (!this.connection.isOpen && !(await this.connection.open())) {
      return "Cannot reach the server.";
    }
    if (create) {
      const r = await this.connection.request("register", { name, password });
      if (!r.ok) return r.error.message;
    }
    const r = await this.connection.request("login", { name, password });
    if (!r.ok) return r.error.code === "unauthorized" ? "Wrong name or password." : r.error.message;
    sessionStorage.setItem(TOKEN_KEY, r.token);
    this.loggedInWith(r);
    return null;
  }

  async logout() {
    await this.connection.request("logout");
    this.endLogin();
    this.connection.close();
  }

  // --- actions (resolve to an error message, or null) -----------------------

  async openConversation(key) {
    this.state.active = key;
    const c = this.state.conversation(key);
    c.unread = 0;
    this.onChange();
    if (!c.historyLoaded) await this.loadHistory(c, undefined);
    if (c.kind === "group") {
      // Membership changes without events: refresh it whenever the group is opened.
      c.members = await this.members(c.name);
      this.onChange();
    }
  }

  async loadOlder() {
    const c = this.state.conversations.get(this.state.active);
    if (!c || c.messages.length === 0) return;
    await this.loadHistory(c, c.messages[0].id);
  }

  async send(text) {
    const c = this.state.conversations.get(this.state.active);
    if (!c) return "Pick a conversation first.";
    const r =
      c.kind === "group"
        ? await this.connection.request("group_send", { group: c.name, text })
        : await this.connection.request("send", { to: c.name, text });
    if (!r.ok) return r.error.message;
    // Our own messages are not echoed back: add it from the reply.
    const message = { id: r.message.id, ts: r.message.ts, from: this.state.me.name, text };
    this.state.addMessage(c.key, message);
    this.onChange();
    return null;
  }

  async addFriend(name) {
    const r = await this.connection.request("add_friend", { user: name });
    if (!r.ok) return r.error.message;
    this.state.friends.set(r.friend.name, r.friend);
    await this.openConversation(friendKey(r.friend.name));
    return null;
  }

  async createGroup(name, desc) {
    const r = await this.connection.request("create_group", { name, desc });
    if (!r.ok) return r.error.message;
    this.state.groups.set(r.group.name, r.group);
    await this.openConversation(groupKey(r.group.name));
    return null;
  }

  async joinGroup(name) {
    const r = await this.connection.request("join_group", { group: name });
    if (!r.ok) return r.error.message;
    this.state.groups.set(r.group.name, r.group);
    await this.openConversation(groupKey(r.group.name));
    return null;
  }

  async leaveGroup(name) {
    const r = await this.connection.request("leave_group", { group: name });
    if (!r.ok) return r.error.message;
    this.state.groups.delete(name);
    this.state.conversations.delete(groupKey(name));
    this.state.active = null;
    this.onChange();
    return null;
  }

  async members(name) {
    const r = await this.connection.request("members", { group: name });
    return r.ok ? r.members : [];
  }

  // --- internals ----------------------------------------------------------------

  loggedInWith(reply) {
    this.state.loggedIn(reply);
    this.loggedIn = true;
    this.attempt = 0;
    this.status = "online";
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.connection.request("ping"), PING_INTERVAL_MS);
    this.onChange();
  }

  endLogin() {
    this.loggedIn = false;
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.state.reset();
    this.ackedUpTo = this.highestSeq = 0;
    this.status = "offline";
    this.onLoggedOut();
  }

  async resume() {
    const r = await this.connection.request("resume", { token: this.token });
    if (r.ok) {
      const active = this.state.active;
      this.loggedInWith(r);
      // Conversations keep their messages; the server now replays whatever
      // was not acked, and dedup by id drops what we already have.
      if (active) this.state.active = active;
      this.onChange();
      return true;
    }
    if (r.error.code === "unavailable") {
      this.connection.close();
      this.scheduleReconnect();
      return true;
    }
    this.endLogin(); // expired or revoked token: log in again
    return false;
  }

  onConnectionState(s) {
    if (s !== "closed" || !this.loggedIn) return;
    clearInterval(this.pingTimer);
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.status = "reconnecting";
    this.onChange();
    clearTimeout(this.reconnectTimer);
    // Exponential backoff with jitter, so a restarted server is not hit by
    // every browser at the same instant.
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(async () => {
      if (await this.connection.open()) await this.resume();
      else this.scheduleReconnect();
    }, delay);
  }

  async loadHistory(c, before) {
    const args = c.kind === "group" ? { group: c.name } : { with: c.name };
    args.limit = HISTORY_PAGE;
    if (before !== undefined) args.before = before;
    const r = await this.connection.request("history", args);
    if (!r.ok) return;
    for (const m of r.messages) this.state.addMessage(c.key, m);
    c.historyLoaded = true;
    c.hasOlder = r.messages.length >= HISTORY_PAGE;
    this.onChange();
  }

  onEvent(e) {
    switch (e.event) {
      case "message":
      case "group_message": {
        const key = this.state.keyOf(e);
        const fresh = this.state.addMessage(key, e);
        if (fresh && (key !== this.state.active || document.hidden)) {
          this.state.conversation(key).unread++;
        }
        this.onChange();
        this.scheduleAck(e.seq);
        break;
      }
      case "presence":
        this.state.setOnline(e.user, e.online);
        this.onChange();
        break;
      case "friend_added":
        this.state.friends.set(e.friend.name, e.friend);
        this.onChange();
        break;
      case "shutdown":
        // The server is going away; it closes the socket next and we resume
        // (on another node, in a cluster).
        this.status = "reconnecting";
        this.onChange();
        break;
    }
  }

  // Acks are cumulative: one ack for the highest seq, shortly after a burst.
  scheduleAck(seq) {
    if (typeof seq !== "number") return;
    this.highestSeq = Math.max(this.highestSeq, seq);
    if (this.ackTimer !== null) return;
    this.ackTimer = setTimeout(async () => {
      this.ackTimer = null;
      const upTo = this.highestSeq;
      if (upTo <= this.ackedUpTo) return;
      const r = await this.connection.request("ack", { up_to: upTo });
      if (r.ok) this.ackedUpTo = Math.max(this.ackedUpTo, upTo);
    }, ACK_DELAY_MS);
  }
}
