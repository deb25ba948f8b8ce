package api

import (
	"errors"
	"sync"
	"syscall"
)

// hangups closes parked connections whose client has gone (hung up or shut
// down its side, as net/http's background reader would notice): one
// goroutine for all of them, blocked in epoll_wait on a second epoll set.
// It starts with the first watch and ends after an idle second with none.
// Bytes a client sends while parked are not a hangup and are left unread.
type hangups struct {
	mu      sync.Mutex
	running bool
	epfd    int
	polls   map[int]*poll // by fd
	seq     int32         // tells a watch from an earlier one of the same fd
}

const hangupEvents = syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR

// watch watches p.conn; p.mu is held. A connection whose fd cannot be
// watched stays parked until its answer.
func (h *hangups) watch(p *poll) {
	sc, ok := p.conn.(syscall.Conn)
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
		h.running, h.epfd, h.polls = true, epfd, make(map[int]*poll)
		go h.run(epfd)
	}
	h.seq++
	ev := syscall.EpollEvent{Events: hangupEvents, Fd: int32(fd), Pad: h.seq}
	if syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_ADD, fd, &ev) != nil {
		return
	}
	p.fd, p.seq = fd, h.seq
	h.polls[fd] = p
}

// forget stops watching p, before its connection is closed.
func (h *hangups) forget(p *poll) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running && h.polls[p.fd] == p {
		delete(h.polls, p.fd)
		_ = syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_DEL, p.fd, nil)
	}
}

// run hands each hangup on epfd to its poll, until a second passes with
// nothing watched.
func (h *hangups) run(epfd int) {
	events := make([]syscall.EpollEvent, 128)
	var gone []*poll
	for {
		n, err := syscall.EpollWait(epfd, events, 1000)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			n = 0 // not expected of a valid epfd; treated as an idle wait
		}
		gone = gone[:0]
		h.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if p := h.polls[int(ev.Fd)]; p != nil && p.seq == ev.Pad {
				delete(h.polls, p.fd)
				_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, p.fd, nil)
				gone = append(gone, p)
			}
		}
		if n <= 0 && len(h.polls) == 0 {
			h.running = false
			_ = syscall.Close(epfd)
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		for _, p := range gone {
			p.hangup()
		}
	}
}
