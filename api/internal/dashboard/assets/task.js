// task.js: one task. It shows the record of GET /v1/tasks/{id} and keeps
// it current by long-polling ?wait=25s until the task ends; retry and
// cancel are offered when the task's status allows them.

import { api } from './api.js';
import { h, badge, when, pretty, terminal, report, notice, clearBanner } from './dom.js';
import { sleep } from './live.js';

const longPoll = '25s';

export function taskPage({ view, arg, signal }) {
  view.append(h('p', { class: 'muted' }, 'Loading…'));
  let following = null;
  // start (again, after an action) follows the task, ending the old loop.
  const start = () => {
    if (following) following.abort();
    following = new AbortController();
    const sig = AbortSignal.any([signal, following.signal]);
    follow(arg, sig, (t) => view.replaceChildren(...detail(t, start).filter(Boolean)));
  };
  start();
}

// follow draws the task, then asks again with ?wait= until it ends (each
// answer is drawn), or until signal aborts. A failed call is reported and
// tried again after a pause.
async function follow(id, signal, draw) {
  let wait = '';
  while (!signal.aborted) {
    try {
      const t = await api.task(id, wait, signal);
      draw(t);
      clearBanner('poll');
      if (terminal(t.status)) return;
      wait = longPoll;
    } catch (e) {
      if (signal.aborted) return;
      report(e, 'poll');
      if (e.status === 404) return;
      await sleep(2000, signal);
    }
  }
}

// detail renders task t; refresh is called after an action.
function detail(t, refresh) {
  const facts = [
    ['Status', badge(t.status)],
    ['Name', t.name], ['Queue', t.queue],
    ['Attempts', `${t.attempts} (max retries ${t.max_retries})`],
    ['Crashes', String(t.crashes || 0)],
    ['Timeout', t.timeout], ['Result kept', t.result_ttl],
    ['Created', when(t.created_at)], t.run_at ? ['Runs at', when(t.run_at)] : null,
    ['Started', when(t.started_at)], ['Finished', when(t.finished_at)],
  ].filter(Boolean);
  const dl = h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  return [
    h('h1', null, 'Task ', h('span', { class: 'mono', id: 'task-id' }, t.id)),
    actions(t, refresh), dl,
    section('Payload', 'payload', pretty(t.payload)),
    t.result !== undefined ? section('Result', 'result', pretty(t.result)) : null,
    t.error ? section('Error', 'error', t.error) : null,
  ];
}

function section(title, id, text) {
  return h('section', null, h('h2', null, title), h('pre', { id: 'task-' + id }, text));
}

// actions offers retry on a failed or canceled task, cancel on one that
// waits or runs (its worker is asked to stop it). Either redraws the page
// from the task's new record.
function actions(t, refresh) {
  const bar = h('div', { class: 'actions' });
  const run = (label, fn, cls) => h('button', {
    type: 'button', class: cls, id: label.toLowerCase(), onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await fn(t.id);
        notice(`${label}: done.`);
        refresh();
      } catch (e) {
        report(e);
        ev.target.disabled = false;
      }
    },
  }, label);
  if (t.status === 'failed' || t.status === 'canceled') bar.append(run('Retry', api.retry));
  if (['scheduled', 'queued', 'retrying', 'running'].includes(t.status) && !t.cancel_requested_at) bar.append(run('Cancel', api.cancel, 'danger'));
  bar.append(h('a', { href: '#/tasks?' + new URLSearchParams({ queue: t.queue }), class: 'button secondary' }, 'Queue’s tasks'));
  return bar;
}
