// Rendering: ChatState -> DOM. Lists are small (friends, groups, one
// conversation's loaded messages), so each render rebuilds them; the message
// list keeps the reader at the bottom when they were already there.

import { $, h, show } from "./dom.js";
import { friendKey, groupKey } from "./state.js";

const STATUS_TEXT = {
  online: "online",
  connecting: "connecting…",
  reconnecting: "reconnecting…",
  offline: "offline",
};

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });

function when(ts) {
  const d = new Date(ts);
  const today = new Date().toDateString() === d.toDateString();
  return today ? timeFormat.format(d) : `${dayFormat.format(d)} ${timeFormat.format(d)}`;
}

function initial(name) {
  return (name || "?").slice(0, 1).toUpperCase();
}

// A stable hue per name, so each person keeps the same avatar colour.
function hue(name) {
  let x = 0;
  for (const ch of name) x = (x * 31 + ch.codePointAt(0)) % 360;
  return x;
}

function avatar(name, extraClass = "") {
  return h("span", { class: `avatar ${extraClass}`, style: { "--hue": hue(name) } }, initial(name));
}

export function renderLoginState(loggedIn) {
  show($("login-view"), !loggedIn);
  show($("chat-view"), loggedIn);
}

export function render(session, actions) {
  const { state } = session;
  renderLoginState(session.loggedIn);
  if (!session.loggedIn) return;

  const me = state.me.name;
  $("me-name").textContent = me;
  const meAvatar = $("me-avatar");
  meAvatar.textContent = initial(me);
  meAvatar.style.setProperty("--hue", hue(me));
  const status = $("conn-status");
  status.textContent = STATUS_TEXT[session.status] ?? session.status;
  status.dataset.status = session.status;

  renderList($("friend-list"), [...state.friends.values()], (f) => friendKey(f.name), state, actions,
    (f) => [
      h("span", { class: "avatar-wrap" }, avatar(f.name),
        h("span", { class: `dot ${f.online ? "on" : "off"}`, title: f.online ? "online" : "offline",
                    "data-online": f.online ? "true" : "false" })),
      h("span", { class: "conv-name" }, f.name),
    ], "No friends yet — add someone below.");

  renderList($("group-list"), [...state.groups.values()], (g) => groupKey(g.name), state, actions,
    (g) => [avatar(g.name, "square"), h("span", { class: "conv-name" }, "#" + g.name)],
    "No groups yet — create or join one.");

  const total = state.totalUnread();
  document.title = total > 0 ? `(${total}) Parley` : "Parley";

  renderConversation(session, actions);
}

function renderList(ul, items, keyOf, state, actions, content, emptyText) {
  items.sort((a, b) => a.name.localeCompare(b.name));
  ul.replaceChildren();
  if (items.length === 0) {
    ul.append(h("li", { class: "empty-list" }, emptyText));
    return;
  }
  for (const item of items) {
    const key = keyOf(item);
    const c = state.conversations.get(key);
    const unread = c ? c.unread : 0;
    ul.append(
      h("li", {},
        h("button", {
          class: `conv ${state.active === key ? "active" : ""}`,
          "data-key": key,
          onclick: () => actions.open(key),
        },
        ...content(item),
        unread > 0 ? h("span", { class: "badge", "aria-label": `${unread} unread` }, unread) : null)));
  }
}

function renderConversation(session, actions) {
  const { state } = session;
  const c = state.active ? state.conversations.get(state.active) : null;
  show($("empty-conversation"), !c);
  show($("open-conversation"), !!c);
  if (!c) return;

  if (c.kind === "group") {
    const g = state.groups.get(c.name);
    $("conv-title").textContent = "#" + c.name;
    const parts = [];
    if (g && g.desc) parts.push(g.desc);
    if (c.members) parts.push(c.members.length === 1 ? "1 member" : `${c.members.length} members`);
    $("conv-subtitle").textContent = parts.length ? parts.join(" · ") : "group";
    $("conv-subtitle").title = c.members ? c.members.map((m) => m.name).join(", ") : "";
  } else {
    const f = state.friends.get(c.name);
    $("conv-title").textContent = c.name;
    $("conv-subtitle").textContent = f && f.online ? "online" : "offline";
  }
  show($("leave-group-button"), c.kind === "group");
  show($("load-older"), c.hasOlder);

  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const list = $("message-list");
  list.replaceChildren();
  if (c.messages.length === 0) {
    list.append(h("li", { class: "no-messages" }, c.historyLoaded ? "No messages yet. Say hi!" : "Loading…"));
  }
  let previous = null;
  for (const m of c.messages) {
    const mine = m.from === state.me.name;
    const continued = previous && previous.from === m.from && m.ts - previous.ts < 5 * 60_000;
    list.append(
      h("li", { class: `msg ${mine ? "mine" : "theirs"} ${continued ? "continued" : ""}`, "data-id": m.id },
        !mine && !continued ? avatar(m.from, "small") : h("span", { class: "avatar-space" }),
        h("div", { class: "bubble" },
          !mine && !continued && c.kind === "group" ? h("span", { class: "author" }, m.from) : null,
          h("span", { class: "text" }, m.text),
          h("time", { datetime: new Date(m.ts).toISOString() }, when(m.ts)))));
    previous = m;
  }
  if (atBottom || actions.scrollToBottom) {
    box.scrollTop = box.scrollHeight;
    actions.scrollToBottom = false;
  }
}
