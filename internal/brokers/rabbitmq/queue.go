package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"gust/internal/brokers"
)

// DefaultPrefetch is the channel's QoS prefetch count when Config.Prefetch
// is not set.
const DefaultPrefetch = 10

// handshakeTimeout bounds the TCP connect and AMQP handshake when ctx has
// no earlier deadline; heartbeats take over once the connection is open.
const handshakeTimeout = 30 * time.Second

// closeTimeout bounds the close handshake with the broker.
const closeTimeout = 5 * time.Second

var (
	// ErrClosed is returned by Receive, Ack and Retry after Close.
	ErrClosed = errors.New("rabbitmq: queue closed")
	// ErrDisconnected is wrapped by the error Receive and Retry return
	// once the connection, the channel or the consumer is gone; the
	// caller opens a new Queue.
	ErrDisconnected = errors.New("rabbitmq: disconnected from the broker")
	// ErrQueueNotFound is wrapped by the error Open returns when the
	// queue does not exist.
	ErrQueueNotFound = errors.New("queue not found")
	// ErrSettled is returned when a message is settled a second time.
	ErrSettled = errors.New("rabbitmq: message already settled")
)

// Config says which queue to consume and how.
type Config struct {
	// URL is amqp://user:pass@host:port/vhost (or amqps://). It holds
	// credentials: it is never logged nor put into errors.
	URL string
	// Queue is the name of an existing queue; Open declares it passively
	// and fails with ErrQueueNotFound when it is missing.
	Queue string
	// Prefetch is the channel's QoS prefetch count: how many unsettled
	// messages the broker hands this consumer at once. Default 10.
	Prefetch int
	// ConsumerTag names the consumer on the broker; default: one the
	// client library makes up.
	ConsumerTag string
}

// Queue consumes one RabbitMQ queue with manual acknowledgements over its
// own connection. It implements brokers.Queue.
type Queue struct {
	name string
	log  *slog.Logger

	conn *amqp.Connection
	ch   *amqp.Channel

	// The pump goroutine moves deliveries from the client library into
	// buffered; it closes dead, after setting cause, when the
	// delivery stream ends. buffered never holds more than the
	// prefetch count, the most the broker sends unsettled.
	buffered  chan amqp.Delivery
	dead      chan struct{}
	cause     error
	connClose chan *amqp.Error
	chanClose chan *amqp.Error
	cancelled chan string

	mu      sync.Mutex
	closing bool
	done    chan struct{}          // closed by Close: stops the pump
	timers  map[uint64]*time.Timer // pending Retry nacks by delivery tag
	wg      sync.WaitGroup         // the pump and running retry timers
	closeFn func() error           // closes the connection once
}

var _ brokers.Queue = (*Queue)(nil)

// Open connects to the broker, checks that the queue exists, sets the
// prefetch count and starts consuming with manual acknowledgements.
// ctx bounds the connect and handshake only.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Queue == "" {
		return nil, errors.New("rabbitmq: open: no queue name")
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = DefaultPrefetch
	}
	uri, err := amqp.ParseURI(cfg.URL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, fmt.Errorf("rabbitmq: open queue %q: the broker URL is not a valid amqp:// or amqps:// URL "+
			"(percent-encode reserved characters in the user name and password)", cfg.Queue)
	}
	addr := net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port))
	conn, err := dial(ctx, cfg.URL, cfg.Queue)
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: open queue %q: connect to %s: %w", cfg.Queue, addr, redact(err, uri.Password))
	}
	q := &Queue{
		name:     cfg.Queue,
		log:      slog.Default().With("component", "rabbitmq", "queue", cfg.Queue, "broker", addr),
		conn:     conn,
		buffered: make(chan amqp.Delivery, cfg.Prefetch),
		dead:     make(chan struct{}),
		done:     make(chan struct{}),
		timers:   make(map[uint64]*time.Timer),
	}
	q.closeFn = sync.OnceValue(q.closeConnection)
	if err := q.startConsuming(cfg); err != nil {
		_ = q.closeConnection()
		return nil, fmt.Errorf("rabbitmq: open queue %q at %s: %w", cfg.Queue, addr, redact(err, uri.Password))
	}
	q.log.Info("consuming", "prefetch", cfg.Prefetch)
	return q, nil
}

// dial opens the connection, giving up when ctx ends during the TCP
// connect or the handshake.
func dial(ctx context.Context, url, queue string) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("gust " + queue)
	var stopWatch func() bool
	config := amqp.Config{
		Heartbeat:  10 * time.Second,
		Properties: props,
		Dial: func(network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			deadline, ok := ctx.Deadline()
			if !ok || time.Until(deadline) > handshakeTimeout {
				deadline = time.Now().Add(handshakeTimeout)
			}
			// The client library clears the deadline after the handshake.
			if err := c.SetDeadline(deadline); err != nil {
				_ = c.Close()
				return nil, err
			}
			stopWatch = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
			return c, nil
		},
	}
	conn, err := amqp.DialConfig(url, config)
	watching := stopWatch != nil && stopWatch()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if stopWatch != nil && !watching {
		// ctx ended as the handshake finished: the deadline it set
		// would break the connection later, so give up now.
		_ = conn.Close()
		return nil, ctx.Err()
	}
	return conn, nil
}

// startConsuming opens the channel, checks the queue, and starts the
// consumer and the pump.
func (q *Queue) startConsuming(cfg Config) error {
	ch, err := q.conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	q.ch = ch
	if err := ch.Qos(cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	if _, err := ch.QueueDeclarePassive(cfg.Queue, false, false, false, false, nil); err != nil {
		var amqpErr *amqp.Error
		if errors.As(err, &amqpErr) && amqpErr.Code == amqp.NotFound {
			return fmt.Errorf("%w: %w", ErrQueueNotFound, err)
		}
		return fmt.Errorf("check queue: %w", err)
	}
	// Buffered so the client library never waits on us; one value each
	// is all we read.
	q.connClose = q.conn.NotifyClose(make(chan *amqp.Error, 1))
	q.chanClose = ch.NotifyClose(make(chan *amqp.Error, 1))
	q.cancelled = ch.NotifyCancel(make(chan string, 1))
	deliveries, err := ch.Consume(cfg.Queue, cfg.ConsumerTag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	q.wg.Add(1)
	go q.pump(deliveries)
	return nil
}

// pump forwards deliveries until the stream ends (the channel,
// connection or consumer is gone) or Close; then it records why and
// closes dead.
func (q *Queue) pump(deliveries <-chan amqp.Delivery) {
	defer q.wg.Done()
	defer close(q.dead)
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				q.cause = q.disconnectCause()
				if !q.isClosing() {
					q.log.Warn("delivery stream ended", "err", q.cause)
				}
				return
			}
			select {
			case q.buffered <- d:
			case <-q.done:
				q.cause = ErrClosed
				return
			}
		case <-q.done:
			q.cause = ErrClosed
			return
		}
	}
}

// disconnectCause says why the delivery stream ended, from whichever
// notification the client library sent before ending it.
func (q *Queue) disconnectCause() error {
	if q.isClosing() {
		return ErrClosed
	}
	select {
	case e, ok := <-q.connClose:
		if ok && e != nil {
			return fmt.Errorf("%w: connection closed: %w", ErrDisconnected, e)
		}
	default:
	}
	select {
	case e, ok := <-q.chanClose:
		if ok && e != nil {
			return fmt.Errorf("%w: channel closed: %w", ErrDisconnected, e)
		}
	default:
	}
	select {
	case tag, ok := <-q.cancelled:
		if ok {
			return fmt.Errorf("%w: the broker cancelled consumer %q (queue deleted?)", ErrDisconnected, tag)
		}
	default:
	}
	return fmt.Errorf("%w: delivery stream ended", ErrDisconnected)
}

// Receive waits until a message is available or ctx ends, then returns up
// to max messages without waiting further; never more than the prefetch
// count, which is all the broker hands out unsettled. Once the connection, channel
// or consumer is gone it returns an error wrapping ErrDisconnected (any
// message still buffered is dropped: it cannot be settled, and the broker
// delivers it again); after Close it returns ErrClosed.
func (q *Queue) Receive(ctx context.Context, max int) ([]*brokers.Message, error) {
	if max < 1 {
		return nil, fmt.Errorf("rabbitmq: receive: max must be at least 1, got %d", max)
	}
	if err := q.failure(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var first amqp.Delivery
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-q.dead:
		return nil, q.failure()
	case first = <-q.buffered:
	}
	batch := []*brokers.Message{q.message(first)}
	for len(batch) < max {
		d, ok := q.tryNext()
		if !ok {
			break
		}
		batch = append(batch, q.message(d))
	}
	if err := q.failure(); err != nil {
		return nil, err
	}
	return batch, nil
}

// tryNext takes a buffered delivery without waiting.
func (q *Queue) tryNext() (amqp.Delivery, bool) {
	select {
	case d := <-q.buffered:
		return d, true
	default:
		return amqp.Delivery{}, false
	}
}

// failure returns why the queue can no longer deliver, or nil.
func (q *Queue) failure() error {
	select {
	case <-q.dead:
		return q.cause
	default:
	}
	if q.isClosing() {
		return ErrClosed
	}
	return nil
}

func (q *Queue) isClosing() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closing
}

// Close cancels pending retries, stops the consumer and closes the
// connection; the broker puts every unsettled message back in the queue.
// It waits for the pump and for retries already being sent. Closing twice
// is harmless.
func (q *Queue) Close() error {
	q.mu.Lock()
	if !q.closing {
		q.closing = true
		close(q.done)
		for tag, t := range q.timers {
			if t.Stop() {
				q.wg.Done() // the callback will never run
			}
			delete(q.timers, tag)
		}
	}
	q.mu.Unlock()
	err := q.closeFn()
	q.wg.Wait()
	return err
}

// closeConnection closes the connection, and with it the channel, within
// closeTimeout: the close handshake is a round trip to the broker, and a
// dead peer would otherwise hold it until the heartbeat gives up. That the
// broker or the network closed it first is no error.
func (q *Queue) closeConnection() error {
	err := q.conn.CloseDeadline(time.Now().Add(closeTimeout))
	if err == nil || errors.Is(err, amqp.ErrClosed) {
		return nil
	}
	return fmt.Errorf("rabbitmq: close queue %q: %w", q.name, err)
}

// redactedError hides a secret that a wrapped error's text may contain,
// while errors.Is and errors.As still see the wrapped error.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every occurrence of secret in its text masked.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, "xxxxx"), err: err}
}
