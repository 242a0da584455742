// End-to-end test of the web client: the real parley-server, Debian's
// chromium (headless, driven by playwright-core; no browser is downloaded),
// two browser contexts (alice, bob) that register, befriend, chat and share
// a group, and a command-line user (carol, a plain TCP socket speaking JSON
// lines) chatting with alice both ways — messages cross between WebSocket
// and TCP. The server is then restarted: alice's page reconnects, resumes
// and gets what carol sent meanwhile, without duplicates. Screenshots go to
// the artifact directory.
//
// usage: node web_chat_test.mjs PARLEY_SERVER_BINARY ARTIFACT_DIR
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ServerProcess } from "./server.mjs";
import { TcpUser } from "./tcp_user.mjs";

const [binary, artifacts] = process.argv.slice(2);
if (!binary || !artifacts) {
  console.error("usage: node web_chat_test.mjs PARLEY_SERVER_BINARY ARTIFACT_DIR");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const TIMEOUT_MS = 15000;
// A hard stop for the whole test, so a hang fails instead of blocking CI.
const watchdog = setTimeout(() => {
  console.error("FAIL: browser test timed out");
  process.exit(1);
}, 180000);

const server = new ServerProcess(binary);
let browser;
const pageErrors = [];
// While the test has the server down on purpose, Chromium reports each
// refused reconnect attempt as a console error; those are expected then.
let serverDown = false;
const REFUSED = /WebSocket connection to .* failed: .*ERR_CONNECTION_REFUSED/;

// --- page helpers -------------------------------------------------------------

async function openPage(context, who) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  // Any script error or CSP violation in the page fails the test.
  page.on("pageerror", (e) => pageErrors.push(`${who}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (serverDown && REFUSED.test(m.text())) return;
    pageErrors.push(`${who} console: ${m.text()}`);
  });
  await page.setViewportSize({ width: 1180, height: 760 });
  await page.goto(`http://127.0.0.1:${server.webPort}/`);
  return page;
}

async function register(page, name) {
  await page.fill("#login-name", name);
  await page.fill("#login-password", "password1");
  await page.click("#register-button");
  await page.locator("#chat-view").waitFor({ state: "visible" });
  assert.equal(await page.textContent("#me-name"), name);
  await page.locator('#conn-status[data-status="online"]').waitFor();
}

const friendButton = (page, name) => page.locator(`#friend-list button[data-key="u:${name}"]`);
const groupButton = (page, name) => page.locator(`#group-list button[data-key="g:${name}"]`);
const messageText = (page, text) => page.locator("#message-list .msg .text", { hasText: text });

async function send(page, text) {
  await page.fill("#send-text", text);
  await page.press("#send-text", "Enter");
  await messageText(page, text).waitFor();
}

async function step(name, fn) {
  process.stdout.write(`- ${name} ... `);
  await fn();
  console.log("ok");
}

// --- the scenario -----------------------------------------------------------------

async function main() {
  await server.start();
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    // launch() gives each run a fresh temporary profile (user-data-dir).
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const alice = await openPage(await browser.newContext(), "alice");
  const bob = await openPage(await browser.newContext(), "bob");

  await step("login page renders", async () => {
    await alice.locator("#login-view").waitFor({ state: "visible" });
    assert.equal(await alice.title(), "Parley");
  });

  await step("a wrong password is refused with a message", async () => {
    await alice.fill("#login-name", "nobody");
    await alice.fill("#login-password", "password1");
    await alice.click("#login-button");
    await alice.locator("#login-error", { hasText: "Wrong name or password" }).waitFor();
  });

  await step("alice and bob register in two browser contexts", async () => {
    await register(alice, "alice");
    await register(bob, "bob");
  });

  await step("alice adds bob; both see each other online", async () => {
    await alice.fill("#add-friend-name", "bob");
    await alice.press("#add-friend-name", "Enter");
    await friendButton(alice, "bob").locator('.dot[data-online="true"]').waitFor();
    await friendButton(bob, "alice").locator('.dot[data-online="true"]').waitFor();
  });

  await step("alice writes; bob sees an unread count, opens, reads", async () => {
    // add_friend opened the conversation with bob on alice's side.
    await alice.locator("#conv-title", { hasText: "bob" }).waitFor();
    await send(alice, "hi bob, this is the browser");
    await send(alice, "second line");
    await friendButton(bob, "alice").locator(".badge", { hasText: "2" }).waitFor();
    await friendButton(bob, "alice").click();
    await messageText(bob, "hi bob, this is the browser").waitFor();
    await messageText(bob, "second line").waitFor();
    assert.equal(await friendButton(bob, "alice").locator(".badge").count(), 0);
  });

  await step("bob answers live", async () => {
    await send(bob, "hello alice — ça va? ✓");
    await messageText(alice, "hello alice — ça va? ✓").waitFor();
  });

  let carol;
  await step("a TCP user (carol) befriends alice and they chat both ways", async () => {
    carol = await TcpUser.connect(server.port);
    assert.ok((await carol.request("register", { name: "carol", password: "password1" })).ok);
    assert.ok((await carol.request("login", { name: "carol", password: "password1" })).ok);
    assert.ok((await carol.request("add_friend", { user: "alice" })).ok);
    await friendButton(alice, "carol").locator('.dot[data-online="true"]').waitFor();
    const tcpText = "from the terminal: <b>not bold</b>";
    assert.ok((await carol.request("send", { to: "alice", text: tcpText })).ok);
    await friendButton(alice, "carol").locator(".badge", { hasText: "1" }).waitFor();
    await friendButton(alice, "carol").click();
    await messageText(alice, tcpText).waitFor(); // shown as text, not markup
    assert.equal(await alice.locator("#message-list b").count(), 0);
    await send(alice, "from the browser to the terminal");
    const m = await carol.nextEvent((e) => e.event === "message");
    assert.equal(m.from, "alice");
    assert.equal(m.text, "from the browser to the terminal");
  });

  await step("groups: alice creates, bob joins, both chat", async () => {
    await alice.fill("#create-group-name", "devs");
    await alice.fill("#create-group-desc", "the dev team");
    await alice.press("#create-group-name", "Enter");
    await groupButton(alice, "devs").waitFor();
    await alice.locator("#conv-subtitle", { hasText: "the dev team" }).waitFor();
    await bob.fill("#join-group-name", "devs");
    await bob.press("#join-group-name", "Enter");
    await groupButton(bob, "devs").waitFor();
    await send(alice, "standup in 5");
    await messageText(bob, "standup in 5").waitFor();
    await bob.locator("#message-list .author", { hasText: "alice" }).waitFor();
    await send(bob, "on my way");
    await friendButton(alice, "bob").click();
    await groupButton(alice, "devs").click(); // re-opening refreshes the members
    await alice.locator("#conv-subtitle", { hasText: "the dev team · 2 members" }).waitFor();
  });

  await step("history: bob reloads the page and the conversation comes back", async () => {
    await bob.reload();
    await bob.locator('#conn-status[data-status="online"]').waitFor(); // resumed by token
    await friendButton(bob, "alice").click();
    await messageText(bob, "hi bob, this is the browser").waitFor();
    await messageText(bob, "hello alice — ça va? ✓").waitFor();
  });

  await step("screenshots", async () => {
    await friendButton(alice, "bob").click();
    await messageText(alice, "hello alice — ça va? ✓").waitFor();
    await alice.screenshot({ path: join(artifacts, "web-chat.png") });
    await groupButton(bob, "devs").click();
    await messageText(bob, "on my way").waitFor();
    await bob.screenshot({ path: join(artifacts, "web-chat-group.png") });
  });

  await step("server restart: the page reconnects, resumes, gets what it missed once", async () => {
    await friendButton(alice, "carol").click();
    carol.close();
    const ports = { port: server.port, webPort: server.webPort };
    serverDown = true;
    await server.stop();
    await alice.locator('#conn-status[data-status="reconnecting"]').waitFor();
    await server.start(ports);
    carol = await TcpUser.connect(server.port);
    assert.ok((await carol.request("login", { name: "carol", password: "password1" })).ok);
    assert.ok((await carol.request("send", { to: "alice", text: "after the restart" })).ok);
    await alice.locator('#conn-status[data-status="online"]').waitFor({ timeout: 30000 });
    await bob.locator('#conn-status[data-status="online"]').waitFor({ timeout: 30000 });
    serverDown = false;
    await messageText(alice, "after the restart").waitFor();
    // Earlier messages were acked: not delivered again, or deduplicated.
    assert.equal(await messageText(alice, "from the terminal").count(), 1);
    await send(alice, "welcome back");
    const m = await carol.nextEvent((e) => e.event === "message" && e.text === "welcome back");
    assert.equal(m.from, "alice");
  });

  await step("logout returns to the login page", async () => {
    await alice.click("#logout-button");
    await alice.locator("#login-view").waitFor({ state: "visible" });
    await friendButton(bob, "alice").locator('.dot[data-online="false"]').waitFor();
  });

  carol.close();
  assert.deepEqual(pageErrors, [], "errors in the page");
}

let failed = false;
try {
  await main();
  console.log(`PASS (screenshots in ${artifacts})`);
} catch (e) {
  failed = true;
  console.error("\nFAIL:", e);
  console.error("server log tail:\n" + server.logTail());
  if (pageErrors.length) console.error("page errors:", pageErrors);
} finally {
  if (browser) await browser.close().catch(() => {});
  await server.stop();
  server.remove();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
