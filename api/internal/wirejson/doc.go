// Package wirejson is the hand-written JSON of the API's hot paths: a
// one-pass scanner of submission bodies (ScanRequest, ScanBatch) and a
// reflection-free writer of records (AppendRecord). Each gives up, or
// hands a field to encoding/json, on anything outside the common shape, so
// that it never disagrees with the strict decoder (tasks.Request's
// UnmarshalJSON) or with encoding/json: the fuzz targets here check the
// requests and the records, and api's FuzzDecodeBatch a batch's wrapper.
//
// It stays because it wins end to end. Measured over HTTP with wrk against
// `runq serve` on the 2-vCPU build machine, server CPU per request or task,
// median of five sittings: single submissions 60 µs with it, 72 µs with
// encoding/json, 66 µs with github.com/go-json-experiment/json (the
// encoding/json/v2 prototype, strict by option); batches of 1,000, 3.3 µs
// per task with it, 9.3 with encoding/json, 4.9 with that library (4.7
// with goccy/go-json writing the answers), and 149k tasks/s against 98k
// and 135k. The batch is where the margin is; a single submission shares
// the same code. See cmd/runq/BENCHMARKS.md.
package wirejson
