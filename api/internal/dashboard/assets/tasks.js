// tasks.js: the list of tasks, newest first, filtered by queue, status and
// name, paged with the API's cursors. The filters and the cursor live in
// the URL ("#/tasks?status=failed&cursor=…"), so a view can be shared and
// the browser's Back button pages back.

import { api } from './api.js';
import { h, badge, when, table, statuses } from './dom.js';
import { poll } from './live.js';

const filters = ['queue', 'status', 'name'];

export function tasksPage({ view, params, signal }) {
  const list = h('div', { id: 'task-list' });
  const pager = h('nav', { class: 'pager' });
  view.append(h('h1', null, 'Tasks'), filterForm(params), list, pager);
  const query = { limit: 50, cursor: params.get('cursor') || '' };
  for (const f of filters) query[f] = params.get(f) || '';
  poll(signal, async () => {
    const page = await api.list(query, signal);
    list.replaceChildren(tasksTable(page.tasks || []));
    pager.replaceChildren(...pagerLinks(params, page.next_cursor));
  });
}

// filterForm edits the filters; applying them starts at the newest task.
function filterForm(params) {
  const input = (name, placeholder) =>
    h('input', { name, placeholder, value: params.get(name) || '', 'aria-label': name });
  const status = h('select', { name: 'status', 'aria-label': 'status' },
    h('option', { value: '' }, 'any status'),
    statuses.map((st) => h('option', { value: st, selected: params.get('status') === st }, st)));
  const form = h('form', { class: 'filters', id: 'filters' },
    input('queue', 'any queue'), status, input('name', 'any name'),
    h('button', { type: 'submit' }, 'Filter'),
    h('a', { href: '#/tasks', class: 'button secondary' }, 'Clear'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const f of filters) {
      const v = form.elements[f].value.trim();
      if (v) next.set(f, v);
    }
    location.hash = '#/tasks' + (next.size ? '?' + next : '');
  });
  return form;
}

function pagerLinks(params, nextCursor) {
  const links = [];
  if (params.get('cursor')) {
    const first = new URLSearchParams(params);
    first.delete('cursor');
    links.push(h('a', { href: '#/tasks' + (first.size ? '?' + first : ''), class: 'button secondary' }, '« Newest'));
  }
  if (nextCursor) {
    const next = new URLSearchParams(params);
    next.set('cursor', nextCursor);
    links.push(h('a', { href: '#/tasks?' + next, class: 'button secondary', id: 'next-page' }, 'Next page »'));
  }
  return links;
}

export function shortID(id) {
  return String(id).slice(0, 8);
}

function tasksTable(tasks) {
  const rows = tasks.map((t) => [
    h('a', { href: '#/task/' + encodeURIComponent(t.id), title: t.id, class: 'mono' }, shortID(t.id)),
    t.name, t.queue, badge(t.status), String(t.attempts ?? ''),
    when(t.created_at), when(t.finished_at),
  ]);
  const tbl = table(['ID', 'Name', 'Queue', 'Status', 'Attempts', 'Created', 'Finished'], rows,
    'No tasks on this page.');
  tbl.classList.add('tasks');
  return tbl;
}
