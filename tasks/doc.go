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
package tasks
