// ChatState: what the client knows — who I am, friends with presence, my
// groups, and one conversation per friend or group with its messages and
// unread count. Messages are deduplicated by id (the server may deliver a
// message again if it was not acked before a reconnect) and kept in id
// order. No DOM here: ui.js renders this state.

export const friendKey = (name) => "u:" + name;
export const groupKey = (name) => "g:" + name;

export class ChatState {
  constructor() {
    this.reset();
  }

  reset() {
    this.me = null; // {id, name}
    this.friends = new Map(); // name -> {id, name, online}
    this.groups = new Map(); // name -> {id, name, desc}
    this.conversations = new Map(); // key -> Conversation
    this.active = null; // key of the open conversation
  }

  // From a login/resume reply.
  loggedIn(reply) {
    this.me = reply.user;
    this.friends = new Map(reply.friends.map((f) => [f.name, f]));
    this.groups = new Map(reply.groups.map((g) => [g.name, g]));
  }

  conversation(key) {
    let c = this.conversations.get(key);
    if (!c) {
      c = {
        key,
        kind: key.startsWith("g:") ? "group" : "friend",
        name: key.slice(2),
        messages: [], // {id, from, text, ts}, ascending id
        ids: new Set(),
        unread: 0,
        historyLoaded: false,
        hasOlder: false,
        members: null, // groups: [{id, name, role, online}] when last opened
      };
      this.conversations.set(key, c);
    }
    return c;
  }

  // The conversation a message (event or history item) belongs to.
  keyOf(message) {
    if (message.group !== undefined) return groupKey(message.group);
    const other = message.from === this.me.name ? message.to : message.from;
    return friendKey(other);
  }

  // Adds a message; false if this id was already there (a duplicate).
  addMessage(key, message) {
    const c = this.conversation(key);
    if (c.ids.has(message.id)) return false;
    c.ids.add(message.id);
    const item = { id: message.id, from: message.from, text: message.text, ts: message.ts };
    // Live messages almost always come last; history pages come first.
    let i = c.messages.length;
    while (i > 0 && c.messages[i - 1].id > item.id) i--;
    c.messages.splice(i, 0, item);
    return true;
  }

  totalUnread() {
    let n = 0;
    for (const c of this.conversations.values()) n += c.unread;
    return n;
  }

  setOnline(name, online) {
    const f = this.friends.get(name);
    if (f) f.online = online;
  }
}
