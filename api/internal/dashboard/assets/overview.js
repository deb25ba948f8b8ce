// overview.js: the first page. Per-queue counts from GET /v1/queues and a
// chart of the attempts finished over the last minutes, summed over the
// queues from each one's "history", refreshed by polling that one call.

import { api } from './api.js';
import { h, s, num, table } from './dom.js';
import { poll } from './live.js';

export function overviewPage({ view, signal }) {
  const chart = h('figure', { class: 'chart' });
  const counts = h('div');
  view.append(h('h1', null, 'Overview'), chart, h('h2', null, 'Queues'), counts);
  poll(signal, async () => {
    const { queues = [] } = await api.queues(signal);
    chart.replaceChildren(throughputChart(sumHistory(queues)),
      h('figcaption', null, 'Attempts finished per 10 s over the last 10 minutes: ',
        h('span', { class: 'key ok' }, 'succeeded'), ' ', h('span', { class: 'key bad' }, 'failed')));
    counts.replaceChildren(countsTable(queues));
  });
}

// sumHistory adds the queues' histories step by step (they share their
// steps' times), oldest first.
export function sumHistory(queues) {
  const byTime = new Map();
  for (const qi of queues) {
    for (const p of qi.history || []) {
      const sum = byTime.get(p.at) || { at: p.at, processed: 0, failed: 0 };
      sum.processed += p.processed || 0;
      sum.failed += p.failed || 0;
      byTime.set(p.at, sum);
    }
  }
  return [...byTime.values()].sort((a, b) => new Date(a.at) - new Date(b.at));
}

function countsTable(queues) {
  const link = (queue, status, n) =>
    n > 0 ? h('a', { href: '#/tasks?' + new URLSearchParams(status ? { queue, status } : { queue }) }, num(n)) : num(n);
  const rows = queues.map((qi) => [
    h('a', { href: '#/tasks?' + new URLSearchParams({ queue: qi.name }) }, qi.name),
    link(qi.name, 'queued', qi.queued),
    link(qi.name, '', qi.scheduled), // scheduled and retrying: no one status filter
    link(qi.name, 'running', qi.running),
    link(qi.name, 'succeeded', qi.succeeded),
    link(qi.name, 'failed', qi.failed),
    link(qi.name, 'canceled', qi.canceled),
    qi.oldest_queued && qi.oldest_queued !== '0s' ? qi.oldest_queued : '—',
    `${num(qi.processed_1m)} / ${num(qi.failed_1m)}`,
    `${num(qi.processed_1h)} / ${num(qi.failed_1h)}`,
  ]);
  const cols = ['Queue', 'Queued', 'Scheduled / retrying', 'Running', 'Succeeded', 'Failed', 'Canceled',
    'Oldest queued', 'Done / failed 1 min', 'Done / failed 1 h'];
  return table(cols, rows, 'No queues yet: submit a task.');
}

// Size of the chart's drawing, in its own units (it scales to the page).
const W = 1000, H = 220, pad = { l: 44, r: 8, t: 10, b: 22 };

// throughputChart draws one bar per step: its succeeded part (processed
// less failed) under its failed part, each with its numbers on hover.
export function throughputChart(points) {
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Throughput of the last minutes' });
  const max = Math.max(1, ...points.map((p) => p.processed || 0));
  const plotW = W - pad.l - pad.r, plotH = H - pad.t - pad.b;
  const y = (v) => pad.t + plotH - (v / max) * plotH;
  svg.append(
    s('line', { x1: pad.l, x2: W - pad.r, y1: y(0), y2: y(0), class: 'axis' }),
    s('text', { x: pad.l - 4, y: y(max) + 10, 'text-anchor': 'end', class: 'tick' }, num(max)),
    s('text', { x: pad.l - 4, y: y(0), 'text-anchor': 'end', class: 'tick' }, '0'));
  if (points.length === 0) {
    svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'tick' }, 'no history yet'));
    return svg;
  }
  const step = plotW / points.length;
  points.forEach((p, i) => svg.append(bar(p, pad.l + i * step, Math.max(1, step - 1), y)));
  const first = new Date(points[0].at).toLocaleTimeString();
  svg.append(
    s('text', { x: pad.l, y: H - 4, class: 'tick' }, first),
    s('text', { x: W - pad.r, y: H - 4, 'text-anchor': 'end', class: 'tick' }, 'now'));
  return svg;
}

function bar(p, x, w, y) {
  const failed = Math.min(p.failed || 0, p.processed || 0);
  const ok = (p.processed || 0) - failed;
  const g = s('g', null, s('title', null,
    `${new Date(p.at).toLocaleTimeString()}: ${ok} succeeded, ${failed} failed`));
  if (ok > 0) g.append(s('rect', { x, width: w, y: y(ok), height: y(0) - y(ok), class: 'ok' }));
  if (failed > 0) {
    g.append(s('rect', { x, width: w, y: y(ok + failed), height: y(ok) - y(ok + failed), class: 'bad' }));
  }
  // An invisible full-height target, so that the hover works on empty steps.
  g.append(s('rect', { x, width: w, y: pad.t, height: y(0) - pad.t, class: 'hit' }));
  return g;
}
