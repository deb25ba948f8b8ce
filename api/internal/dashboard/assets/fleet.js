// fleet.js: the workers page (GET /v1/workers) and the queues page (GET
// /v1/queues, with each queue's settings, pause and resume, and purges
// behind a confirmation that names what goes).

import { api } from './api.js';
import { h, num, when, ago, table, report, notice, confirmAction } from './dom.js';
import { poll } from './live.js';

export function workersPage({ view, signal }) {
  const list = h('div');
  view.append(h('h1', null, 'Workers'), list);
  poll(signal, async () => {
    const { workers = [] } = await api.workers(signal);
    const rows = workers.map((w) => [
      h('span', { class: 'mono' }, w.id), w.host, String(w.pid), (w.queues || []).map((q) => (w.weights ? `${q}:${w.weights[q]}` : q)).join(', '),
      `${num(w.running)} / ${num(w.concurrency)}`, w.batch_wait || '—', when(w.started_at),
      h('span', { title: w.last_heartbeat }, ago(w.last_heartbeat)), w.version,
    ]);
    list.replaceChildren(table(['ID', 'Host', 'PID', 'Queues', 'Running', 'Batch wait', 'Started', 'Last heartbeat', 'Version'],
      rows, 'No live workers.'));
  });
}

// purgeable are the statuses POST /v1/queues/{q}/purge deletes; QueueInfo
// counts each in a field of the same name.
const purgeable = ['failed', 'canceled', 'succeeded', 'queued'];

export function queuesPage({ view, signal }) {
  const list = h('div');
  view.append(h('h1', null, 'Queues'), list);
  const redraw = async () => {
    const { queues = [] } = await api.queues(signal);
    const rows = queues.map((qi) => [
      h('a', { href: '#/tasks?' + new URLSearchParams({ queue: qi.name }) }, qi.name),
      num(qi.queued), num(qi.scheduled), num(qi.running), num(qi.succeeded), num(qi.failed), num(qi.canceled),
      h('div', { class: 'actions' }, [h('span', { 'data-state': qi.name }, stateText(qi)), pauseButton(qi, redraw)]),
      h('div', { class: 'actions' }, purgeable.map((st) => purgeButton(qi.name, st, qi[st], redraw))),
    ]);
    list.replaceChildren(table(['Queue', 'Queued', 'Scheduled / retrying', 'Running', 'Succeeded', 'Failed', 'Canceled', 'State', 'Purge'],
      rows, 'No queues yet.'));
  };
  poll(signal, redraw);
}

// stateText says whether workers take the queue's tasks, and its limits
// (PUT /v1/queues/{q} sets them).
function stateText(qi) {
  const parts = [qi.paused ? 'paused' : 'active'];
  if (qi.max_length) parts.push(`at most ${num(qi.max_length)} queued`);
  if (qi.max_running) parts.push(`${num(qi.max_running)} running`);
  return parts.join(', ');
}

function pauseButton(qi, redraw) {
  const verb = qi.paused ? 'resume' : 'pause';
  return h('button', {
    type: 'button', class: 'small', 'data-steer': verb,
    onclick: async () => {
      try {
        await api[verb](qi.name);
        notice(`${qi.paused ? 'Resumed' : 'Paused'} queue “${qi.name}”.`);
        await redraw();
      } catch (e) {
        report(e);
      }
    },
  }, qi.paused ? 'Resume' : 'Pause');
}

function purgeButton(queue, status, count, redraw) {
  return h('button', {
    type: 'button', class: 'danger small', disabled: !(count > 0),
    'data-purge': status,
    onclick: async () => {
      const ok = await confirmAction(`Delete the ${num(count)} ${status} task${count === 1 ? '' : 's'} of queue “${queue}”? This cannot be undone.`);
      if (!ok) return;
      try {
        const r = await api.purge(queue, status);
        notice(`Purged ${num(r.purged)} ${status} task${r.purged === 1 ? '' : 's'} of queue “${queue}”.`);
        await redraw();
      } catch (e) {
        report(e);
      }
    },
  }, `${status} (${num(count)})`);
}
