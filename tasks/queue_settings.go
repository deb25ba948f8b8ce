package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/runq/runq/broker"
)

// UpdateQueue applies u to the settings of queue and returns them as they
// then are. Every worker and API process acts on the change at once (a
// worker learns of it through Redis's pub/sub, and reads the settings
// again whenever its subscription is re-established).
func (c *Client) UpdateQueue(ctx context.Context, queue string, u QueueUpdate) (QueueSettings, error) {
	bu := broker.SettingsUpdate{Paused: u.Paused, MaxLength: u.MaxLength, MaxRunning: u.MaxRunning}
	if err := broker.ValidQueue(queue); err != nil {
		return QueueSettings{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := bu.Validate(); err != nil {
		return QueueSettings{}, fmt.Errorf("%w: %w", ErrInvalid, errors.Unwrap(err))
	}
	if err := c.begin("update queue"); err != nil {
		return QueueSettings{}, err
	}
	defer c.calls.RUnlock()
	s, err := c.b.UpdateSettings(ctx, queue, bu)
	if err == nil {
		err = c.noteQueues(ctx, []broker.NewTask{{Queue: queue}})
	}
	if err != nil {
		return QueueSettings{}, fmt.Errorf("tasks: update queue %s: %w", queue, unavailable(err))
	}
	return queueSettings(s), nil
}

// PauseQueue pauses queue: workers start none of its tasks until
// ResumeQueue; submissions still queue, and running tasks finish.
func (c *Client) PauseQueue(ctx context.Context, queue string) error {
	paused := true
	_, err := c.UpdateQueue(ctx, queue, QueueUpdate{Paused: &paused})
	return err
}

// ResumeQueue lets workers take the tasks of queue again.
func (c *Client) ResumeQueue(ctx context.Context, queue string) error {
	paused := false
	_, err := c.UpdateQueue(ctx, queue, QueueUpdate{Paused: &paused})
	return err
}

func queueSettings(s broker.QueueSettings) QueueSettings {
	return QueueSettings{Paused: s.Paused, MaxLength: s.MaxLength, MaxRunning: s.MaxRunning}
}
