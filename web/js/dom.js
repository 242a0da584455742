// Tiny DOM helpers. Text always goes in as text nodes, never as HTML, so
// names and messages from other users cannot inject markup.

export const $ = (id) => document.getElementById(id);

// h("li", {class: "x", onclick: fn}, "text", childNode, ...)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    // Through the CSSOM, not a style attribute: the page's Content Security
    // Policy forbids inline style attributes.
    else if (k === "style") for (const [p, x] of Object.entries(v)) el.style.setProperty(p, x);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function show(el, visible) {
  el.hidden = !visible;
}
