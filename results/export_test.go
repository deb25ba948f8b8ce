package results

import "time"

// SetIdleAfter sets how long w stays subscribed with nobody waiting; call
// it before Run.
func SetIdleAfter(w *Watcher, d time.Duration) { w.idleAfter = d }
