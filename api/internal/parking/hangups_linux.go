package parking

import (
	"errors"
	"sync"
	"syscall"
)

// Hangups closes held connections whose client has gone (hung up or shut
// down its side, as net/http's background reader would notice): one
// goroutine for all of them, blocked in epoll_wait on a second epoll set.
// It starts with the first watch and ends after an idle second with none.
// Bytes a client sends while held are not a hangup and are left unread.
// The zero Hangups is ready to use.
type Hangups struct {
	mu      sync.Mutex
	running bool
	epfd    int
	conns   map[int]*Conn // by fd
	seq     int32         // tells a watch from an earlier one of the same fd
}

const hangupEvents = syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR

// watch watches c.conn; c.mu is held. A connection whose fd cannot be
// watched stays held until its answer.
func (h *Hangups) watch(c *Conn) {
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		h.running, h.epfd, h.conns = true, epfd, make(map[int]*Conn)
		go h.run(epfd)
	}
	h.seq++
	ev := syscall.EpollEvent{Events: hangupEvents, Fd: int32(fd), Pad: h.seq}
	if syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_ADD, fd, &ev) != nil {
		return
	}
	c.fd, c.seq = fd, h.seq
	h.conns[fd] = c
}

// forget stops watching c, before its connection is closed.
func (h *Hangups) forget(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running && h.conns[c.fd] == c {
		delete(h.conns, c.fd)
		_ = syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	}
}

// run hands each hangup on epfd to its Conn, until a second passes with
// nothing watched.
func (h *Hangups) run(epfd int) {
	events := make([]syscall.EpollEvent, 128)
	var gone []*Conn
	for {
		n, err := syscall.EpollWait(epfd, events, 1000)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			n = 0 // not expected of a valid epfd; treated as an idle wait
		}
		gone = gone[:0]
		h.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if c := h.conns[int(ev.Fd)]; c != nil && c.seq == ev.Pad {
				delete(h.conns, c.fd)
				_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
				gone = append(gone, c)
			}
		}
		if n <= 0 && len(h.conns) == 0 {
			h.running = false
			_ = syscall.Close(epfd)
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		for _, c := range gone {
			c.hangup()
		}
	}
}
