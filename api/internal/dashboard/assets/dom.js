// dom.js: building the page safely and the small helpers every page
// shares. Values from the API reach the DOM only as text nodes and
// attribute values, never as HTML, so a task's payload or error cannot
// inject markup.

const svgNS = 'http://www.w3.org/2000/svg';

// build makes an element: attrs sets attributes ("on…" keys add listeners,
// null/false ones are skipped); children are nodes, strings (as text),
// arrays of them, or null.
function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// h makes an HTML element.
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s makes an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(svgNS, tag), attrs, children);
}

export const $ = (id) => document.getElementById(id);

// statuses are the task statuses, each styled by a class of its name.
export const statuses = ['scheduled', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'canceled'];
export const terminal = (st) => st === 'succeeded' || st === 'failed' || st === 'canceled';

// badge shows a status; an unknown one gets no class of its own.
export function badge(status) {
  const known = statuses.includes(status);
  return h('span', { class: known ? 'badge st-' + status : 'badge', 'data-status': status }, status || '?');
}

// when shows a timestamp in local time, with the exact UTC one on hover.
export function when(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return h('time', { datetime: iso, title: iso }, d.toLocaleString());
}

// ago says how long ago iso was, roughly.
export function ago(iso) {
  const secs = Math.round((Date.now() - new Date(iso)) / 1000);
  if (!isFinite(secs)) return '—';
  if (secs < 60) return secs + ' s ago';
  if (secs < 3600) return Math.round(secs / 60) + ' min ago';
  return Math.round(secs / 3600) + ' h ago';
}

// pretty formats JSON for a <pre>: indented, or as it came when not JSON.
export function pretty(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v, null, 2);
}

export const num = (n) => (typeof n === 'number' ? n.toLocaleString() : '—');

// table makes a table of the given column titles and rows (arrays of
// cells); empty is the text shown when there are no rows.
export function table(columns, rows, empty) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', null, c))));
  const body = h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c)))));
  if (rows.length === 0) {
    body.append(h('tr', null, h('td', { colspan: columns.length, class: 'muted' }, empty)));
  }
  return h('table', null, head, body);
}

// Banner: the one place errors and notices show. Each message has a key,
// so that a poll which succeeds again clears only its own error.
let bannerKey = '';

export function report(err, key = 'action') {
  if (err && err.name === 'AbortError') return;
  let text = err && err.message ? err.message : String(err);
  if (err && err.code && err.status) text += ` (${err.status} ${err.code})`;
  if (err && err.requestID) text += ` — request ${err.requestID}`;
  showBanner(text, 'error', key);
}

export function notice(text) {
  showBanner(text, 'notice', 'notice');
}

function showBanner(text, kind, key) {
  bannerKey = key;
  $('banner-text').textContent = text;
  $('banner').className = kind;
  $('banner').hidden = false;
}

export function clearBanner(key) {
  if (key && key !== bannerKey) return;
  $('banner').hidden = true;
  bannerKey = '';
}

// confirmAction asks in the page's dialog; resolves true on "Delete".
export function confirmAction(text) {
  const d = $('confirm');
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
  });
}
