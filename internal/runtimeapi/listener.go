package runtimeapi

import (
	"net"
	"sync"
)

// maxConns bounds the connections one environment's runtime may hold open
// at once. A runtime needs one or two (a /next poll and an answer); more
// wait in the kernel's accept queue, costing the server no descriptor.
const maxConns = 8

// limitListener accepts at most n connections at a time; Accept blocks
// until one of them is closed. Written here because the standard library
// has no such wrapper and golang.org/x/net is not otherwise needed.
func limitListener(l net.Listener, n int) net.Listener {
	return &limitedListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
