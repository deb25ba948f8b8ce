package outages

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards loopback TCP connections to one target and can blackhole
// them: while cut, it forwards nothing in either direction and keeps every
// connection open, as a network partition does. Bytes read during the cut
// are held, in order, and delivered at Restore, the way TCP retransmits
// deliver what was sent into a partition once it heals (so a command a
// client gave up on may still reach Redis late). New connections are
// accepted during a cut and stay silent until Restore.
type Proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	open   chan struct{} // closed while traffic flows; replaced at Cut
	cut    bool
	pairs  map[*pair]struct{}
	closed bool
	wg     sync.WaitGroup
}

// pair is one proxied connection: the client's side and Redis's side.
type pair struct {
	client, server net.Conn
	ended          int // directions that have finished
}

// StartProxy listens on a free loopback port and forwards to target; it is
// closed at cleanup.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{target: target, ln: ln, open: make(chan struct{}), pairs: make(map[*pair]struct{})}
	close(p.open)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut stops forwarding.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cut {
		p.cut = true
		p.open = make(chan struct{})
	}
}

// Restore forwards again, first what was held during the cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		p.cut = false
		close(p.open)
	}
}

// Close stops listening, closes every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	_ = p.ln.Close()
	for pr := range p.pairs {
		_ = pr.client.Close()
		_ = pr.server.Close()
	}
	if p.cut {
		p.cut = false
		close(p.open)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		pr := &pair{client: client, server: server}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.pairs[pr] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(pr, server, client)
		go p.pipe(pr, client, server)
	}
}

// gate returns a channel that is closed while traffic may flow.
func (p *Proxy) gate() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

// pipe copies from src to dst, holding each chunk until the gate is open.
// When src ends cleanly it half-closes dst, so that a client's close
// reaches the server after everything it sent; on an error both ends close.
func (p *Proxy) pipe(pr *pair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				p.end(pr, true)
				return
			}
		}
		if err != nil {
			<-p.gate()
			eof := errors.Is(err, io.EOF)
			if tc, ok := dst.(*net.TCPConn); ok && eof {
				_ = tc.CloseWrite()
			}
			p.end(pr, !eof)
			return
		}
	}
}

// end records that one direction of pr finished; the pair is closed once
// both have, or at once when abort is set.
func (p *Proxy) end(pr *pair, abort bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr.ended++
	if abort || pr.ended == 2 {
		_ = pr.client.Close()
		_ = pr.server.Close()
		delete(p.pairs, pr)
	}
}
