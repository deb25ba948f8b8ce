package dashboard_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/runq/runq/broker/redistest"
)

// TestDashboardInBrowser drives the dashboard in a real chromium against a
// real runq server with a token: the login, the submit form, the task page
// following its task live, the tasks list filtered by status, the
// overview, the workers, and a purge behind its confirmation. It saves a
// screenshot of each step and checks that none is blank.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	requireBrowser(t)
	// One backend: the real Redis when there is one, as runq serve uses.
	// A second run on miniredis would double the time and test the same
	// page.
	bes := redistest.Backends(t)
	be := bes[len(bes)-1]
	base := startServer(t, be)
	b := newBrowser(t) // stops before the server: no errors from its polls
	shots := screenshotDir(t)
	start := time.Now()

	logIn(t, b, base, shots)
	// The page is never reloaded: the mark set now stays until the end.
	eval[bool](t, b, "window.runqMark = true")
	echoTask(t, b, shots)
	liveTask(t, b)
	failID := failTask(t, b, shots)
	failedList(t, b, failID)
	b.screenshot(t, shots, "4-tasks-failed")
	overview(t, b)
	b.screenshot(t, shots, "5-overview")
	workers(t, b)
	b.screenshot(t, shots, "6-workers")
	purgeFailed(t, b)
	b.screenshot(t, shots, "7-queues-purged")
	pauseAndResume(t, b, base)
	b.screenshot(t, shots, "8-queue-resumed")

	if !eval[bool](t, b, "window.runqMark === true") {
		t.Errorf("the page was reloaded: the dashboard must update in place")
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors: %q", errs)
	}
	t.Logf("browser session took %s", time.Since(start).Round(time.Millisecond))
}

// echoTask submits an echo task whose payload would be markup if the page
// used innerHTML, and checks that its page shows it succeeded, with the
// payload as text.
func echoTask(t *testing.T, b *browser, shots string) {
	t.Helper()
	const trap = `<img src=x id=injected onerror=window.runqInjected=1>`
	submit(t, b, "echo", `{"html": `+jsString(trap)+`}`)
	until[bool](t, b, "the echo task succeeding", statusIs("succeeded"))
	if got := eval[string](t, b, "document.getElementById('task-result').textContent"); !strings.Contains(got, trap) {
		t.Errorf("result shown = %q, want it to contain %q as text", got, trap)
	}
	if eval[bool](t, b, "document.getElementById('injected') !== null || window.runqInjected === 1") {
		t.Errorf("the payload %q became an element: values must reach the DOM as text", trap)
	}
	b.screenshot(t, shots, "2-task-succeeded")
}

// liveTask submits a task that takes a while: its page shows it waiting
// or running, then, without a reload, its end (the long poll's answer).
func liveTask(t *testing.T, b *browser) {
	t.Helper()
	submit(t, b, "sleep", `{"ms": 1500}`)
	until[bool](t, b, "the sleep task shown before it ends", statusIs("queued", "running"))
	until[bool](t, b, "the sleep task shown succeeded", statusIs("succeeded"))
}

// failTask submits a fail task (not retried: the handler declares no
// retries) and checks that its page shows the error and offers a retry.
func failTask(t *testing.T, b *browser, shots string) string {
	t.Helper()
	id := submit(t, b, "fail", `{"message": "refused by the browser test"}`)
	until[bool](t, b, "the fail task failing", statusIs("failed"))
	until[bool](t, b, "its error shown", "document.getElementById('task-error')?.textContent.includes('refused by the browser test')")
	until[bool](t, b, "a retry button on the failed task", "document.getElementById('retry') !== null")
	b.screenshot(t, shots, "3-task-failed")
	return id
}

// logIn opens the dashboard, checks that it shows the login form and no
// data, is refused a wrong token, and logs in with the right one.
func logIn(t *testing.T, b *browser, base, shots string) {
	t.Helper()
	b.do(t, "opening the dashboard", chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-token")))
	if !eval[bool](t, b, "document.getElementById('view').hidden && document.getElementById('nav').hidden") {
		t.Errorf("before the login, the pages are shown: want only the login form")
	}
	b.screenshot(t, shots, "1-login")
	b.do(t, "logging in with a wrong token",
		chromedp.SendKeys(chromedp.ID("login-token"), "not-the-token"),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("login-error")))
	b.do(t, "logging in",
		chromedp.SendKeys(chromedp.ID("login-token"), testToken),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")),
		chromedp.WaitNotVisible(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("nav")))
}

// submit fills the submit form with name and payload, sends it, and
// returns the ID of the task whose page the dashboard then opens.
func submit(t *testing.T, b *browser, name, payload string) string {
	t.Helper()
	b.do(t, "opening the submit form",
		chromedp.Click(chromedp.CSS(`#nav a[data-route="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#submit-form[data-ready="true"]`)),
		chromedp.SetValue(chromedp.ID("task-name"), name),
		chromedp.SetValue(chromedp.ID("payload"), payload),
		chromedp.Click(chromedp.ID("submit-task")))
	id := until[string](t, b, "the task's page after submitting "+name,
		`location.hash.startsWith('#/task/') && document.getElementById('task-id')?.textContent`)
	if got := eval[string](t, b, "document.querySelector('#view .facts dd:nth-of-type(2)').textContent"); got != name {
		t.Errorf("task page of %s shows name %q", id, got)
	}
	return id
}

// statusIs is an expression true when the open task's status is one of
// want.
func statusIs(want ...string) string {
	list := "["
	for i, w := range want {
		if i > 0 {
			list += ","
		}
		list += jsString(w)
	}
	return list + "].includes(document.querySelector('#view .facts .badge')?.dataset.status)"
}

// failedList filters the tasks list by status failed and checks that it
// shows the task failID, and failed tasks only.
func failedList(t *testing.T, b *browser, failID string) {
	t.Helper()
	b.do(t, "filtering the tasks list by status failed",
		chromedp.Click(chromedp.CSS(`#nav a[data-route="tasks"]`)),
		chromedp.WaitVisible(chromedp.ID("filters")),
		chromedp.SetValue(chromedp.CSS(`#filters select[name="status"]`), "failed"),
		chromedp.Click(chromedp.CSS(`#filters button[type="submit"]`)))
	link := jsString(`#task-list a[href="#/task/` + failID + `"]`)
	// One condition, waited for: the unfiltered list may render once more
	// after the hash changed, from a fetch sent before it.
	until[bool](t, b, "the failed task in the list, and failed tasks only",
		"location.hash === '#/tasks?status=failed' && document.querySelector("+link+") !== null && "+
			"[...document.querySelectorAll('#task-list .badge')].every(e => e.dataset.status === 'failed')")
}

// overview opens the overview and checks that it shows the default queue,
// its failed task, and the throughput chart.
func overview(t *testing.T, b *browser) {
	t.Helper()
	b.do(t, "opening the overview", chromedp.Click(chromedp.CSS(`#nav a[data-route=""]`)))
	until[bool](t, b, "the default queue with one failed task on the overview",
		`document.querySelector('#view table a[href="#/tasks?queue=default&status=failed"]')?.textContent === '1'`)
	until[bool](t, b, "the throughput chart", "document.querySelector('#view .chart svg') !== null")
}

// workers opens the workers page and checks that it lists this process's
// pool, with its batch wait.
func workers(t *testing.T, b *browser) {
	t.Helper()
	b.do(t, "opening the workers", chromedp.Click(chromedp.CSS(`#nav a[data-route="workers"]`)))
	pid := jsString(strconv.Itoa(os.Getpid()))
	until[bool](t, b, "this process's pool among the workers, with its batch wait of 1ms",
		"[...document.querySelectorAll('#view tr')].some(tr => [...tr.cells].some(td => td.textContent === "+pid+
			") && [...tr.cells].some(td => td.textContent === '1ms'))")
}

// purgeFailed purges the failed task from the queues page, checking that
// the confirmation names what goes and that the page then says it went.
func purgeFailed(t *testing.T, b *browser) {
	t.Helper()
	button := chromedp.CSS(`#view button[data-purge="failed"]:enabled`)
	b.do(t, "asking to purge the failed tasks",
		chromedp.Click(chromedp.CSS(`#nav a[data-route="queues"]`)),
		chromedp.WaitVisible(button),
		chromedp.Click(button),
		chromedp.WaitVisible(chromedp.ID("confirm-text")))
	want := "Delete the 1 failed task of queue “default”?"
	if got := eval[string](t, b, "document.getElementById('confirm-text').textContent"); !strings.HasPrefix(got, want) {
		t.Errorf("purge confirmation = %q, want it to start %q", got, want)
	}
	b.do(t, "confirming the purge", chromedp.Click(chromedp.CSS(`#confirm button[value="ok"]`)))
	until[bool](t, b, "the purge reported", "document.getElementById('banner-text').textContent.startsWith('Purged 1 failed task')")
}

// pauseAndResume pauses the default queue from the queues page, checks
// that the page and the API say so, and resumes it.
func pauseAndResume(t *testing.T, b *browser, base string) {
	t.Helper()
	state := "document.querySelector('#view [data-state=\"default\"]').textContent"
	b.do(t, "pausing the default queue", chromedp.Click(chromedp.CSS(`#view button[data-steer="pause"]`)))
	until[bool](t, b, "the queue shown paused", state+".startsWith('paused')")
	if !queuePaused(t, base) {
		t.Errorf("GET /v1/queues/default after the pause button: not paused")
	}
	b.do(t, "resuming it", chromedp.Click(chromedp.CSS(`#view button[data-steer="resume"]`)))
	until[bool](t, b, "the queue shown active", state+".startsWith('active')")
	if queuePaused(t, base) {
		t.Errorf("GET /v1/queues/default after the resume button: still paused")
	}
}
