package tasks_test

import (
	"log"

	"github.com/runq/runq/broker/embedded"
)

// startRedis starts an embedded Redis for the examples to run on; a
// program of yours connects to a real one, redis://host:6379/0.
func startRedis() *embedded.Server {
	srv, err := embedded.Start("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return srv
}
