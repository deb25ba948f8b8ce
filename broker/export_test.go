package broker

import "github.com/google/uuid"

// What the tests of package broker_test need of the broker's keys.

func (b *Broker) TaskKey(id uuid.UUID) string            { return b.keys.Task(id) }
func (b *Broker) PendingKey(queue string) string         { return b.keys.Pending(queue) }
func (b *Broker) ScheduledKey(queue string) string       { return b.keys.Scheduled(queue) }
func (b *Broker) LeasesKey(queue string) string          { return b.keys.Leases(queue) }
func (b *Broker) LeaseTasksKey(queue, tok string) string { return b.keys.LeaseTasks(queue, tok) }
func (b *Broker) DoneChannel() string                    { return b.keys.Done() }
func (b *Broker) LogKey(queue string) string             { return b.keys.Log(queue) }

var StatusOf = statusOf

var KeptNow = keptNow
