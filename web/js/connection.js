// Connection: one WebSocket to the Parley server. Every request gets a `rid`
// and a Promise for its response (the protocol answers each request exactly
// once, in order); objects with an `event` key go to onEvent. When the socket
// drops, waiting requests resolve with an `unavailable` error and onState
// reports "closed": reconnecting is the caller's decision (see session.js).

export class Connection {
  constructor(url, { onEvent, onState }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.socket = null;
    this.nextRid = 1;
    this.pending = new Map(); // rid -> resolve
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  // Opens the socket; resolves true once open, false if it failed.
  open() {
    this.close();
    return new Promise((resolve) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      this.onState("connecting");
      socket.onopen = () => {
        this.onState("open");
        resolve(true);
      };
      socket.onmessage = (e) => this.receive(e.data);
      socket.onclose = () => {
        if (this.socket !== socket) return; // an old socket, already replaced
        this.socket = null;
        this.failPending();
        this.onState("closed");
        resolve(false);
      };
    });
  }

  close() {
    if (!this.socket) return;
    const socket = this.socket;
    this.socket = null;
    socket.onclose = null;
    socket.close();
    this.failPending();
  }

  // Sends {op, ...args}; resolves with the response object ({ok: true, ...}
  // or {ok: false, error: {code, message}}). Never rejects.
  request(op, args = {}) {
    if (!this.isOpen) {
      return Promise.resolve({ ok: false, error: { code: "unavailable", message: "not connected" } });
    }
    const rid = this.nextRid++;
    return new Promise((resolve) => {
      this.pending.set(rid, resolve);
      this.socket.send(JSON.stringify({ op, rid, ...args }));
    });
  }

  receive(text) {
    let obj;
    try {
      obj = JSON.parse(text);
    } catch {
      return; // the server only sends JSON; ignore anything else
    }
    if (obj.event !== undefined && obj.ok === undefined) {
      this.onEvent(obj);
      return;
    }
    const resolve = this.pending.get(obj.rid);
    if (resolve) {
      this.pending.delete(obj.rid);
      resolve(obj);
    }
  }

  failPending() {
    const lost = { ok: false, error: { code: "unavailable", message: "connection lost" } };
    for (const resolve of this.pending.values()) resolve(lost);
    this.pending.clear();
  }
}
