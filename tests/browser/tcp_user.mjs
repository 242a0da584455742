// A command-line user for the browser test: a plain TCP socket speaking the
// JSON-lines protocol (what `parley` and `nc` speak).
import net from "node:net";

export class TcpUser {
  static async connect(port) {
    const u = new TcpUser();
    await new Promise((resolve, reject) => {
      u.socket = net.createConnection({ host: "127.0.0.1", port }, resolve);
      u.socket.once("error", reject);
    });
    u.socket.setEncoding("utf8");
    u.socket.on("data", (chunk) => u.onData(chunk));
    return u;
  }

  constructor() {
    this.buffer = "";
    this.nextRid = 1;
    this.waiting = new Map(); // rid -> resolve
    this.events = [];
    this.eventWaiters = [];
  }

  onData(chunk) {
    this.buffer += chunk;
    let nl;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const obj = JSON.parse(this.buffer.slice(0, nl));
      this.buffer = this.buffer.slice(nl + 1);
      if (obj.event !== undefined) {
        this.events.push(obj);
        for (const w of this.eventWaiters.splice(0)) w();
      } else {
        this.waiting.get(obj.rid)?.(obj);
        this.waiting.delete(obj.rid);
      }
    }
  }

  request(op, args = {}) {
    const rid = this.nextRid++;
    return new Promise((resolve) => {
      this.waiting.set(rid, resolve);
      this.socket.write(JSON.stringify({ op, rid, ...args }) + "\n");
    });
  }

  // Resolves with the first event matching `pred` (taking it out), or
  // rejects after `ms`.
  async nextEvent(pred, ms = 10000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex(pred);
      if (i >= 0) return this.events.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no matching event; got " + JSON.stringify(this.events));
      await new Promise((r) => {
        this.eventWaiters.push(r);
        setTimeout(r, left);
      });
    }
  }

  close() {
    this.socket.destroy();
  }
}
