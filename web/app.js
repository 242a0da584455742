// Parley in the browser: wires the page (index.html) to a Session. Plain ES
// modules, no build step: the server serves these files as they are.

import { $ } from "./js/dom.js";
import { Session } from "./js/session.js";
import { render, renderLoginState } from "./js/ui.js";

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

const actions = {
  scrollToBottom: false,
  open: async (key) => {
    actions.scrollToBottom = true;
    await session.openConversation(key);
    $("send-text").focus();
  },
};

let renderQueued = false;
// Many events can arrive in one burst (a replay): render once per frame.
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render(session, actions);
  });
}

const session = new Session(wsUrl, {
  onChange: scheduleRender,
  onLoggedOut: () => {
    renderLoginState(false);
    $("login-password").value = "";
    $("login-name").focus();
  },
});

// Runs an action that resolves to an error message (or null) and shows it.
async function withError(target, fn) {
  target.textContent = "";
  const error = await fn();
  if (error) target.textContent = error;
  return !error;
}

// --- login ------------------------------------------------------------------

async function submitLogin(create) {
  const form = $("login-form");
  if (!form.reportValidity()) return;
  $("login-button").disabled = $("register-button").disabled = true;
  await withError($("login-error"), () =>
    session.login($("login-name").value.trim(), $("login-password").value, create));
  $("login-button").disabled = $("register-button").disabled = false;
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  submitLogin(false);
});
$("register-button").addEventListener("click", () => submitLogin(true));
$("logout-button").addEventListener("click", () => session.logout());

// --- sidebar forms ------------------------------------------------------------

function onSubmit(formId, fn) {
  $(formId).addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    actions.scrollToBottom = true;
    if (await withError($("sidebar-error"), fn)) form.reset();
  });
}

onSubmit("add-friend-form", () => session.addFriend($("add-friend-name").value.trim()));
onSubmit("join-group-form", () => session.joinGroup($("join-group-name").value.trim()));
onSubmit("create-group-form", () =>
  session.createGroup($("create-group-name").value.trim(), $("create-group-desc").value.trim()));

$("leave-group-button").addEventListener("click", () => {
  const c = session.state.conversations.get(session.state.active);
  if (c && confirm(`Leave #${c.name}?`)) {
    withError($("sidebar-error"), () => session.leaveGroup(c.name));
  }
});
$("load-older").addEventListener("click", () => session.loadOlder());

// --- sending ----------------------------------------------------------------

async function sendCurrent() {
  const box = $("send-text");
  const text = box.value;
  if (text.trim() === "") return;
  $("send-button").disabled = true;
  actions.scrollToBottom = true;
  if (await withError($("send-error"), () => session.send(text))) {
    box.value = "";
    autoGrow();
  }
  $("send-button").disabled = false;
  box.focus();
}

function autoGrow() {
  const box = $("send-text");
  box.style.height = "auto";
  box.style.height = Math.min(box.scrollHeight, 160) + "px";
}

$("send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sendCurrent();
});
$("send-text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendCurrent();
  }
});
$("send-text").addEventListener("input", autoGrow);

// Coming back to the tab counts the open conversation as read.
document.addEventListener("visibilitychange", () => {
  if (document.hidden || !session.state.active) return;
  const c = session.state.conversations.get(session.state.active);
  if (c && c.unread > 0) {
    c.unread = 0;
    scheduleRender();
  }
});

// --- start --------------------------------------------------------------------

session.start().then((resuming) => {
  if (!resuming) renderLoginState(false);
  if (!resuming) $("login-name").focus();
});
