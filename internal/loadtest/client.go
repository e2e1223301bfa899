package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// client sends SCIM requests with the team's key over keep-alive HTTP/1.1 connections that it
// drives itself: it writes each request line and its headers and reads the answer with
// net/http's own parser (http.ReadResponse). It does so because the load generator shares the
// CPU with the server it measures, and net/http's Client (two goroutines per connection and a
// channel hand-off per request) cost about as much CPU per request as the server here; every
// byte the server sees is still ordinary HTTP/1.1 from a real TCP connection.
type client struct {
	addr, prefix, auth string

	mu   sync.Mutex
	idle []*conn
}

// conn is one connection with its buffers; the body of the last answer stays in buf until
// the next request on the connection.
type conn struct {
	nc  net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	buf bytes.Buffer
}

func newClient(addr, prefix, auth string) *client {
	return &client{addr: addr, prefix: prefix, auth: auth}
}

func (c *client) get(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		cn := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return cn, nil
	}
	c.mu.Unlock()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 8<<10)}, nil
}

func (c *client) put(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = append(c.idle, cn)
}

func (c *client) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cn := range c.idle {
		_ = cn.nc.Close()
	}
	c.idle = nil
}

// with sends one request and calls fn with the answer's status and body while the body is
// still valid (it is reused by the connection's next request).
func (c *client) with(ctx context.Context, method, path, body string, fn func(status int, body []byte)) error {
	cn, err := c.get(ctx)
	if err != nil {
		return err
	}
	status, keep, err := cn.roundTrip(c, method, path, body)
	if err != nil {
		_ = cn.nc.Close()
		return err
	}
	fn(status, cn.buf.Bytes())
	if keep {
		c.put(cn)
	} else {
		_ = cn.nc.Close()
	}
	return nil
}

func (cn *conn) roundTrip(c *client, method, path, body string) (int, bool, error) {
	if err := cn.nc.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return 0, false, err
	}
	w := cn.w
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(c.prefix)
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(c.addr)
	w.WriteString("\r\nAuthorization: ")
	w.WriteString(c.auth)
	w.WriteString("\r\nAccept: application/scim+json\r\n")
	if body != "" {
		w.WriteString("Content-Type: application/scim+json\r\nContent-Length: ")
		w.WriteString(strconv.Itoa(len(body)))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.WriteString(body)
	if err := w.Flush(); err != nil {
		return 0, false, err
	}
	res, err := http.ReadResponse(cn.r, nil)
	if err != nil {
		return 0, false, err
	}
	cn.buf.Reset()
	_, err = cn.buf.ReadFrom(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return 0, false, err
	}
	return res.StatusCode, !res.Close, nil
}

// do sends one request and returns a copy of its body.
func (c *client) do(ctx context.Context, method, path, body string) (int, []byte, error) {
	var status int
	var out []byte
	err := c.with(ctx, method, path, body, func(s int, b []byte) {
		status, out = s, bytes.Clone(b)
	})
	return status, out, err
}

// timedDo sends one request, records its latency in h and returns a copy of its body.
func (c *client) timedDo(ctx context.Context, h *hist, method, path, body string) (int, []byte, error) {
	start := time.Now()
	status, b, err := c.do(ctx, method, path, body)
	h.record(time.Since(start))
	return status, b, err
}

// expect sends one request, records its latency, and counts it as an error unless it answers
// status with a body containing want.
func (c *client) expect(ctx context.Context, h *hist, method, path, body string, status int, want string) {
	start := time.Now()
	ok := false
	err := c.with(ctx, method, path, body, func(got int, b []byte) {
		h.record(time.Since(start))
		ok = got == status && (want == "" || bytes.Contains(b, []byte(want)))
	})
	if err != nil {
		h.record(time.Since(start))
	}
	if err != nil || !ok {
		h.fail()
	}
}
