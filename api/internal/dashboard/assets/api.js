// api.js: every call to runq's /v1 API. It sends the token kept in
// sessionStorage (gone when the tab closes), turns error answers into
// ApiError, and on a 401 asks for a token through the login hook and
// sends the request again.

const tokenKey = 'runq.token';

// ApiError is an error answer of the API ({"error", "code", "request_id"})
// or a failure to reach it (status 0).
export class ApiError extends Error {
  constructor(status, code, message, requestID) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestID = requestID || '';
  }
}

export function token() {
  return sessionStorage.getItem(tokenKey) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
}

// loginHook shows the login form and resolves once a token is stored; the
// app sets it. pendingLogin shares one form among the calls that got 401.
let loginHook = async () => { throw new ApiError(401, 'unauthorized', 'a token is needed'); };
let pendingLogin = null;

export function onLogin(fn) {
  loginHook = fn;
}

function login(refused) {
  if (!pendingLogin) {
    pendingLogin = loginHook(refused).finally(() => { pendingLogin = null; });
  }
  return pendingLogin;
}

// send makes one request, answering ApiError(0) when runq cannot be
// reached. An abort is passed on as it is: the page asking has gone.
async function send(method, path, body, signal) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  const init = { method, headers, signal, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return { res: await fetch(path, init), sent: t };
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'cannot reach runq: ' + e.message);
  }
}

// call sends method path (with body as JSON, if any) and returns the
// decoded answer. On 401 it waits for a login and tries again.
export async function call(method, path, { body, signal } = {}) {
  for (;;) {
    const { res, sent } = await send(method, path, body, signal);
    const data = await res.json().catch(() => null);
    if (res.status === 401) {
      if (token() === sent) setToken(''); // not a token stored meanwhile
      await login(sent !== '');
      continue;
    }
    if (!res.ok) {
      const msg = data && typeof data.error === 'string' ? data.error : `HTTP ${res.status}`;
      throw new ApiError(res.status, (data && data.code) || 'http', msg, data && data.request_id);
    }
    return data;
  }
}

// q builds a query string of the non-empty values of params.
export function q(params) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  }
  const text = s.toString();
  return text ? '?' + text : '';
}

export const api = {
  queues: (signal) => call('GET', '/v1/queues', { signal }),
  workers: (signal) => call('GET', '/v1/workers', { signal }),
  handlers: (signal) => call('GET', '/v1/handlers', { signal }),
  list: (params, signal) => call('GET', '/v1/tasks' + q(params), { signal }),
  task: (id, wait, signal) => call('GET', '/v1/tasks/' + encodeURIComponent(id) + q({ wait }), { signal }),
  submit: (req, signal) => call('POST', '/v1/tasks', { body: req, signal }),
  retry: (id) => call('POST', '/v1/tasks/' + encodeURIComponent(id) + '/retry'),
  cancel: (id) => call('DELETE', '/v1/tasks/' + encodeURIComponent(id)),
  purge: (queue, status) => call('POST', '/v1/queues/' + encodeURIComponent(queue) + '/purge' + q({ status })),
  pause: (queue) => call('POST', '/v1/queues/' + encodeURIComponent(queue) + '/pause'),
  resume: (queue) => call('POST', '/v1/queues/' + encodeURIComponent(queue) + '/resume'),
};
