// Formatting and DOM helpers shared by every view. Text always goes in through
// textContent (never innerHTML), so payloads, errors and names cannot inject markup.

const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimals = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** An element: el('td', {class: 'num'}, 'text', child, …). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** 12,345 (the reader's separators); an em dash for nothing. */
export function count(n) {
  return n === null || n === undefined ? '—' : numbers.format(n);
}

/** A rate per second: one decimal under 10, whole numbers above. */
export function rate(n) {
  if (n === null || n === undefined) return '—';
  return (n < 10 ? decimals : numbers).format(n);
}

/** Milliseconds as "850 ms" or "1.2 s". */
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${decimals.format(ms)} ms`;
  if (ms < 60_000) return `${decimals.format(ms / 1000)} s`;
  return `${decimals.format(ms / 60_000)} min`;
}

/** "3 s ago", "in 5 min", "just now". */
export function relative(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '—';
  const seconds = Math.round((at - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 1) return 'just now';
  const [n, unit] =
    size < 60 ? [size, 's'] :
    size < 3600 ? [Math.round(size / 60), 'min'] :
    size < 86400 ? [Math.round(size / 3600), 'h'] : [Math.round(size / 86400), 'd'];
  return seconds < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

/** A <time> showing a relative time, the exact one on hover; kept current by tick(). */
export function time(iso) {
  if (!iso) return el('span', { class: 'muted' }, '—');
  const exact = new Date(iso);
  return el('time', { datetime: iso, title: `${exact.toLocaleString()} (${iso})`, dataset: { rel: '' } }, relative(iso));
}

/** Refreshes every relative time on the page (called each second). */
export function tick() {
  const now = Date.now();
  for (const node of document.querySelectorAll('time[data-rel]')) {
    node.textContent = relative(node.getAttribute('datetime'), now);
  }
}

/** A task state in words and colour. */
export function state(name) {
  return el('span', { class: `state state-${name}` }, name);
}

/** JSON, pretty-printed, in a <pre>. */
export function json(value) {
  return el('pre', { class: 'json' }, value === undefined ? '' : JSON.stringify(value, null, 2));
}

/** Replaces a node's children. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** A short notice at the bottom of the page. */
export function toast(text, kind = 'info') {
  const box = document.getElementById('toast');
  const note = el('div', { class: `note note-${kind}` }, text);
  box.append(note);
  setTimeout(() => note.remove(), kind === 'error' ? 8000 : 4000);
}

/** The link to a task's page. */
export function taskLink(id) {
  return el('a', { href: `#/task/${encodeURIComponent(id)}`, class: 'mono' }, id);
}
