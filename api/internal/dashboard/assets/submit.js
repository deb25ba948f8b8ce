// submit.js: the form that submits a task (POST /v1/tasks): a name from
// GET /v1/handlers, a queue, a JSON payload checked as it is typed, and
// optional retries and timeout. On success it opens the task's page.

import { api } from './api.js';
import { h, report } from './dom.js';

export function submitPage({ view, params, signal }) {
  const nameBox = h('span', null, nameInput([], params.get('name') || ''));
  const payload = h('textarea', { name: 'payload', id: 'payload', rows: 8, spellcheck: 'false' }, '{}');
  const payloadError = h('p', { class: 'error', id: 'payload-error', hidden: true });
  const send = h('button', { type: 'submit', id: 'submit-task' }, 'Submit');
  const form = h('form', { class: 'stack', id: 'submit-form' },
    h('label', null, 'Name ', nameBox),
    h('label', null, 'Queue ', h('input', { name: 'queue', value: params.get('queue') || 'default', required: true })),
    h('label', null, 'Payload (JSON) ', payload), payloadError,
    h('div', { class: 'row' },
      h('label', null, 'Max retries ', h('input', { name: 'max_retries', type: 'number', min: 0, placeholder: 'handler’s default' })),
      h('label', null, 'Timeout ', h('input', { name: 'timeout', placeholder: 'e.g. 30s' }))),
    send);
  const check = () => {
    const err = payloadProblem(payload.value);
    payloadError.textContent = err;
    payloadError.hidden = !err;
    send.disabled = Boolean(err);
  };
  payload.addEventListener('input', check);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(form, send);
  });
  view.append(h('h1', null, 'Submit a task'), form);
  // The name field settles once the list of names is in (or cannot be
  // had: the free text field stays); data-ready tells tests it is final.
  api.handlers(signal).then(({ handlers = [] }) => {
    nameBox.replaceChildren(nameInput(handlers, params.get('name') || ''));
  }, () => {}).finally(() => { form.dataset.ready = 'true'; });
}

// nameInput is a choice of the registered names, or a text field when the
// list is empty or cannot be had.
function nameInput(handlers, chosen) {
  if (handlers.length === 0) {
    return h('input', { name: 'name', id: 'task-name', required: true, value: chosen, placeholder: 'e.g. echo' });
  }
  return h('select', { name: 'name', id: 'task-name', required: true },
    handlers.map((hd) => h('option', { value: hd.name, selected: hd.name === chosen }, describe(hd))));
}

function describe(hd) {
  const extra = [];
  if (hd.max_retries !== undefined) extra.push(`max retries ${hd.max_retries}`);
  if (hd.timeout) extra.push(`timeout ${hd.timeout}`);
  return extra.length ? `${hd.name} (${extra.join(', ')})` : hd.name;
}

// payloadProblem says why text is not JSON, or '' when it is.
function payloadProblem(text) {
  try {
    JSON.parse(text);
    return '';
  } catch (e) {
    return 'The payload is not valid JSON: ' + e.message;
  }
}

// request reads the form into the body of POST /v1/tasks, leaving out what
// is empty so that the handler's defaults apply.
function request(form) {
  const f = form.elements;
  const req = { name: f.name.value.trim(), queue: f.queue.value.trim(), payload: JSON.parse(f.payload.value) };
  if (f.max_retries.value !== '') req.max_retries = Number(f.max_retries.value);
  if (f.timeout.value.trim()) req.timeout = f.timeout.value.trim();
  return req;
}

async function submit(form, send) {
  const problem = payloadProblem(form.elements.payload.value);
  if (problem) {
    report(new Error(problem));
    return;
  }
  send.disabled = true;
  try {
    const t = await api.submit(request(form));
    location.hash = '#/task/' + encodeURIComponent(t.id);
  } catch (e) {
    report(e);
    send.disabled = false;
  }
}
