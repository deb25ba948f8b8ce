// Package tasks owns the task model that Go programmers meet: the handler
// registry, submitting tasks, and the worker pool that runs them. It moves
// tasks only through broker; it knows nothing of HTTP.
package tasks
