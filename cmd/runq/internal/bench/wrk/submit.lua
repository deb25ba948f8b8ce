-- wrk script: single-task submissions to POST /v1/tasks.
--   wrk -t2 -c64 -d20s --latency -s cmd/internal/bench/wrk/submit.lua http://127.0.0.1:8080/v1/tasks
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"echo","payload":{"user":12345,"op":"x"}}'

function done(summary, latency, requests)
  io.write(string.format("non-2xx answers: %d (socket errors: connect %d, read %d, write %d, timeout %d)\n",
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
