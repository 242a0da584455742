// The real parley-server for a browser test: started on free loopback ports
// in a temp directory, stopped with SIGTERM, restartable on the same ports
// and data (to test the client's reconnect + resume).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class ServerProcess {
  constructor(binary) {
    this.binary = binary;
    this.dir = mkdtempSync(join(tmpdir(), "parley-web-"));
    this.child = null;
  }

  // Starts on `ports` ({port, webPort}; 0 = pick) and waits until it listens.
  async start(ports = { port: 0, webPort: 0 }) {
    const portFile = join(this.dir, "port");
    const webPortFile = join(this.dir, "web_port");
    rmSync(portFile, { force: true });
    rmSync(webPortFile, { force: true });
    const log = openSync(join(this.dir, "server.log"), "a");
    this.child = spawn(
      this.binary,
      ["--host", "127.0.0.1", "--port", String(ports.port), "--port-file", portFile,
       "--web-port", String(ports.webPort), "--web-port-file", webPortFile,
       "--data", join(this.dir, "parley.db"), "--hash-cost", "min", "--threads", "2"],
      { stdio: ["ignore", log, log] });
    let exited = false;
    this.child.once("exit", () => { exited = true; });
    for (let i = 0; i < 750; i++) {
      if (existsSync(portFile)) {
        this.port = Number(readFileSync(portFile, "utf8"));
        this.webPort = Number(readFileSync(webPortFile, "utf8"));
        return;
      }
      if (exited) break;
      await sleep(20);
    }
    throw new Error("parley-server did not start:\n" + this.logTail());
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15000);
    await done;
    clearTimeout(timer);
  }

  logTail() {
    try {
      return readFileSync(join(this.dir, "server.log"), "utf8").slice(-4000);
    } catch {
      return "(no log)";
    }
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
