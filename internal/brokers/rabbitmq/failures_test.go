package rabbitmq

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Tests of how a Queue fails: a context that ends, a connection or
// consumer that goes away, and Open errors that must not leak the
// password.

func TestReceiveReturnsWhenContextEnds(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	q := open(t, queue)
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		_, err := q.Receive(ctx, 10)
		result <- err
	}()
	cancel()
	if err := awaitResult(t, result); !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive = %v, want context.Canceled", err)
	}
	// The queue is still usable.
	publish(t, conn, queue, bodies("after")...)
	if m := receive(t, q, 10); string(m[0].Body) != "after" {
		t.Errorf("got %q, want %q", m[0].Body, "after")
	}
}

// awaitResult waits for a blocked call's error, failing if it stays
// blocked.
func awaitResult(t *testing.T, result <-chan error) error {
	t.Helper()
	select {
	case err := <-result:
		return err
	case <-time.After(patience):
		t.Fatal("Receive still blocked")
		return nil
	}
}

// receiveInBackground starts a Receive that blocks on an empty queue.
func receiveInBackground(q *Queue) <-chan error {
	result := make(chan error, 1)
	go func() {
		_, err := q.Receive(context.Background(), 10)
		result <- err
	}()
	return result
}

func TestReceiveFailsWhenConnectionCloses(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	publish(t, conn, queue, bodies("held")...)
	q := open(t, queue)
	held := receive(t, q, 1)[0]
	result := receiveInBackground(q)

	if err := q.conn.Close(); err != nil {
		t.Fatalf("close the connection: %v", err)
	}
	if err := awaitResult(t, result); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Receive = %v, want ErrDisconnected", err)
	}
	if _, err := q.Receive(context.Background(), 1); !errors.Is(err, ErrDisconnected) {
		t.Errorf("next Receive = %v, want ErrDisconnected", err)
	}
	if err := held.Ack(); err == nil {
		t.Error("Ack on a closed connection succeeded")
	}
	if err := q.Close(); err != nil {
		t.Errorf("Close after the connection died: %v", err)
	}
}

func TestReceiveFailsWhenBrokerClosesConnection(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not installed")
	}
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	q := open(t, queue)
	result := receiveInBackground(q)

	pid := connectionPid(t, q.conn.LocalAddr().String())
	if out, err := exec.Command("rabbitmqctl", "close_connection", pid, "gust test").CombinedOutput(); err != nil {
		t.Fatalf("rabbitmqctl close_connection: %v\n%s", err, out)
	}
	err := awaitResult(t, result)
	var amqpErr *amqp.Error
	if !errors.Is(err, ErrDisconnected) || !errors.As(err, &amqpErr) || amqpErr.Code != amqp.ConnectionForced {
		t.Fatalf("Receive = %v, want ErrDisconnected with CONNECTION_FORCED", err)
	}
}

// connectionPid finds the broker's process id for the connection from
// the client address local, or skips when rabbitmqctl may not be used.
func connectionPid(t *testing.T, local string) string {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", "list_connections", "--quiet", "--no-table-headers",
		"pid", "peer_host", "peer_port").Output()
	if err != nil {
		t.Skipf("rabbitmqctl list_connections: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[1]+":"+f[2] == local {
			return f[0]
		}
	}
	t.Fatalf("connection from %s not listed by rabbitmqctl:\n%s", local, out)
	return ""
}

func TestReceiveFailsWhenQueueDeleted(t *testing.T) {
	t.Parallel()
	conn := broker(t)
	queue, _ := testQueues(t, conn)
	q := open(t, queue)
	result := receiveInBackground(q)
	if _, err := channel(t, conn).QueueDelete(queue, false, false, false); err != nil {
		t.Fatalf("delete queue: %v", err)
	}
	if err := awaitResult(t, result); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Receive = %v, want ErrDisconnected", err)
	}
}

func TestOpenMissingQueue(t *testing.T) {
	t.Parallel()
	broker(t)
	name := uniqueName(t)
	q, err := Open(context.Background(), Config{URL: testURL, Queue: name})
	if err == nil {
		_ = q.Close()
		t.Fatal("Open of a missing queue succeeded")
	}
	if !errors.Is(err, ErrQueueNotFound) || !strings.Contains(err.Error(), `"`+name+`"`) {
		t.Errorf("error %q: want ErrQueueNotFound naming %q", err, name)
	}
	if strings.Contains(err.Error(), "guest") {
		t.Errorf("error %q shows the credentials", err)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const secret = "Sekr1tPassw0rd"
	urls := map[string]string{
		"wrong password": "amqp://guest:" + secret + "@127.0.0.1:5672/",
		"bad port":       "amqp://guest:" + secret + "@127.0.0.1:notaport/",
		"bad scheme":     "http://guest:" + secret + "@127.0.0.1:5672/",
		"nothing there":  "amqp://guest:" + secret + "@127.0.0.1:1/",
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			if name == "wrong password" {
				broker(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			q, err := Open(ctx, Config{URL: url, Queue: "q"})
			if err == nil {
				_ = q.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
