-- wrk script: batches of 1,000 tasks to POST /v1/tasks/batch. Tasks/s is
-- 1,000 times the requests/s wrk prints.
--   wrk -t2 -c8 -d20s --latency -s cmd/internal/bench/wrk/batch.lua http://127.0.0.1:8080/v1/tasks/batch
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local one = '{"name":"echo","payload":{"user":12345,"op":"x"}}'
local tasks = {}
for i = 1, 1000 do
  tasks[i] = one
end
wrk.body = '{"tasks":[' .. table.concat(tasks, ",") .. ']}'

function done(summary, latency, requests)
  io.write(string.format("tasks/s: %.0f; non-2xx answers: %d\n",
    summary.requests / (summary.duration / 1e6) * 1000, summary.errors.status))
end
