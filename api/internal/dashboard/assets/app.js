// app.js: the dashboard's entry point. It routes the URL's hash to a page
// ("#/tasks?status=failed"), gives each page an AbortSignal that ends its
// polling when the user leaves it, and shows the login form whenever the
// API answers 401, hiding every page until a token is accepted.

import { onLogin, setToken, token } from './api.js';
import { $, h, clearBanner } from './dom.js';
import { overviewPage } from './overview.js';
import { tasksPage } from './tasks.js';
import { taskPage } from './task.js';
import { submitPage } from './submit.js';
import { workersPage, queuesPage } from './fleet.js';

const pages = {
  '': overviewPage,
  tasks: tasksPage,
  task: taskPage,
  submit: submitPage,
  workers: workersPage,
  queues: queuesPage,
};

// parseHash splits "#/task/ID?x=1" into the page "task", its argument
// "ID" and its parameters.
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const [name, ...rest] = path.split('/');
  let arg = rest.join('/');
  try { arg = decodeURIComponent(arg); } catch { /* keep it as typed */ }
  return { name, arg, params: new URLSearchParams(at < 0 ? '' : raw.slice(at + 1)) };
}

let leaving = null; // aborts the current page's work

function route() {
  if (leaving) leaving.abort();
  leaving = new AbortController();
  clearBanner();
  const { name, arg, params } = parseHash();
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.route === name);
  }
  const view = $('view');
  view.replaceChildren();
  const page = pages[name];
  if (!page) {
    view.append(h('h1', null, 'Not found'), h('p', null, h('a', { href: '#/' }, 'Back to the overview')));
    return;
  }
  page({ view, arg, params, signal: leaving.signal });
}

// askToken shows the login form, with everything else hidden, and
// resolves once the user has given a token.
function askToken(refused) {
  const form = $('login');
  $('view').hidden = true;
  $('nav').hidden = true;
  $('logout').hidden = true;
  $('login-error').hidden = !refused;
  $('login-error').textContent = refused ? 'That token was refused.' : '';
  form.hidden = false;
  $('login-token').value = '';
  $('login-token').focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setToken($('login-token').value);
      form.hidden = true;
      showApp();
      resolve();
    }, { once: true });
  });
}

function showApp() {
  $('view').hidden = false;
  $('nav').hidden = false;
  $('logout').hidden = token() === '';
}

function logOut() {
  setToken('');
  location.reload(); // forget every page's data with the token
}

onLogin(askToken);
$('logout').addEventListener('click', logOut);
$('banner-close').addEventListener('click', () => clearBanner());
window.addEventListener('hashchange', route);
showApp();
route();
