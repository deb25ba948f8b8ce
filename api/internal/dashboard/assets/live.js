// live.js: keeping a page current. poll refreshes a list every couple of
// seconds while the tab is visible; follow (in task.js) long-polls one task.

import { report, clearBanner } from './dom.js';

export const pollEvery = 2000; // ms between refreshes of a visible page

// sleep resolves after ms, or at once when signal aborts.
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

// visible resolves when the tab is visible (at once if it is), or when
// signal aborts: a hidden tab costs the server nothing.
function visible(signal) {
  if (document.visibilityState === 'visible') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (document.visibilityState !== 'visible' && !signal.aborted) return;
      document.removeEventListener('visibilitychange', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    document.addEventListener('visibilitychange', done);
    signal.addEventListener('abort', done);
  });
}

// poll calls load (which fetches and draws) now and every pollEvery ms
// until signal aborts. A failure shows in the banner and the polling goes
// on; the next success clears it.
export async function poll(signal, load) {
  while (!signal.aborted) {
    await visible(signal);
    if (signal.aborted) return;
    try {
      await load(signal);
      clearBanner('poll');
    } catch (e) {
      if (!signal.aborted) report(e, 'poll');
    }
    await sleep(pollEvery, signal);
  }
}
