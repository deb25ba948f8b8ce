// Package tasks is runq for Go programmers: the handler registry and the
// worker Pool that runs handlers, and the Client that submits tasks and
// waits for their results. It moves tasks only through broker and knows
// nothing of HTTP.
//
// A worker registers handlers by name, as http.ServeMux does paths, and
// runs a Pool:
//
//	reg := tasks.NewRegistry()
//	tasks.Handle(reg, "image.resize", resize) // func(ctx, *tasks.Task, ResizeIn) (ResizeOut, error)
//	pool := tasks.NewPool(rdb, reg, tasks.PoolConfig{Concurrency: 50})
//	err := pool.Run(ctx)
//
// A producer submits with a Client and reads the typed result back:
//
//	client, err := tasks.Connect(ctx, "redis://localhost:6379/0", tasks.ClientConfig{})
//	rec, err := tasks.Submit(ctx, client, "image.resize", ResizeIn{URL: u, Width: 640})
//	rec, err = client.Wait(ctx, rec.ID)
//	out, err := tasks.Result[ResizeOut](rec)
//
// Periodic tasks are declared on the registry, and every Pool of it runs
// them; each tick creates one task however many pools declare it:
//
//	reg.Every(time.Minute, "report.send", ReportIn{To: "ops"})
//	reg.Cron("CRON_TZ=Europe/Paris 0 9 * * MON-FRI", "email.digest", nil)
//
// A broadcast task runs once on every live worker that registered its
// name and serves its queue, rather than on one of them, and its record
// holds each worker's answer by worker ID (results.BroadcastResults):
//
//	rec, err := client.Submit(ctx, tasks.Request{Name: "cache.flush", Broadcast: true})
//
// # Options
//
// Options, HandlerOptions and ClientConfig share one rule: a zero field is
// unset and takes the next default (a submission's options, then its
// handler's, then its client's, then runq's), and NoRetries, not 0, asks
// for no retries. In JSON (the HTTP API) an absent or null field is unset
// and "max_retries": 0 means none.
//
// # Keys
//
// A submission may carry keys, claimed in its queue atomically with the
// task's creation. Request.IdempotencyKey makes a repeated submission
// (after a timeout, say) return the task the first one made, Replayed,
// within ClientConfig.IdempotencyTTL; Request.Unique keeps a second task
// with the same key out while the first holds it (for a time, or until it
// has started or finished), answering with the holder or, with
// OnConflictReject, a *DuplicateError. Plain submissions pay nothing for
// either.
//
// # Guarantees of time and flow control
//
// Workers sleep until the next due time and are woken early by an event: of
// 10,000 tasks due over 10 s, p99 10 ms late; restarts (Redis with AOF)
// keep them. Missed cron ticks are logged, never replayed (5 workers, 100
// ticks: 100 tasks). Limits are enforced by all workers together (4
// processes at 10/s: 100 starts in 10 s), per queue; a task over its rate
// or cap waits for its turn without polling and is not an attempt; a dead
// worker's slots return with its lease. The bound check and the push are
// one script (50 racing submitters, bound 10: 10 in); a batch is all or
// nothing, across queues; tasks due later do not count. A batch taken just
// before a pause may start.
//
// # Guarantees of task control and feedback
//
// Keys belong to their queue; a claim, its task and the read of the
// holder's status are one script, so a key is free exactly when the change
// that ends its hold happens (50 racing submitters over two API processes:
// one task). A cancel reaches the task's worker over the events channel
// (0.7 ms), or within an eighth of the visibility timeout; the task ends
// canceled, not retried. Progress is written at most every 250 ms per task,
// fenced by the lease; 1,000 event streams cost 25 MiB. Webhooks carry
// Runq-Task-Id, Runq-Delivery-Id (the same on a resend: dedupe on it) and
// Runq-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">
// (tasks.VerifyWebhook checks it); a non-2xx is retried from 1 s doubling
// to 1 h for 24 h, the record kept meanwhile (its webhook shows it), sent
// by workers outside handler slots, at least once; internal addresses
// (NAT64 and 6to4 forms too) are refused unless --webhook-allow-private. A
// running broadcast is canceled at once; its running copies finish
// unheeded. Broadcast targets are the live workers at submission (none: 422
// no_workers); the task ends succeeded when all answered so, else failed, a
// lapsed target counted missing.
package tasks
