package pgstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"gust/internal/brokers"
)

// ErrClosed is what Read returns after Close.
var ErrClosed = errors.New("pgstream: stream closed")

// Stream reads a slot's changes of the source's tables as DynamoDB stream
// records (see Change). One goroutine, started by Open and stopped by
// Close, owns the replication connection: it decodes changes ahead of
// Read, up to Config.Buffer, and reports the confirmed position to
// PostgreSQL every StatusInterval and soon after each Confirm.
type Stream struct {
	cfg      Config
	conn     *pgconn.PgConn
	dec      *decoder
	warnings []string
	cancel   context.CancelFunc
	done     chan struct{}
	close    sync.Once

	mu         sync.Mutex
	buf        []brokers.Record
	ready      chan struct{} // closed when buf gains records or err is set
	space      chan struct{} // closed when Read takes from buf, or a Confirm wants a report
	err        error         // why the receiver stopped; Read returns it once buf is drained
	flush      pglogrepl.LSN // the position to report as flushed: only ever grows
	sent       pglogrepl.LSN // the position last reported
	confirmed  string        // the highest Seq confirmed (at first Start.After)
	lastQueued string        // the Seq of the last record put in buf
	txnLast    string        // the Seq of the last change of the transaction being read
	ends       map[string]pglogrepl.LSN
	idleEnd    pglogrepl.LSN // a keepalive's WAL end read after the last WAL data, outside a transaction
	interrupt  context.CancelFunc
	reportNow  bool
}

var _ brokers.Stream = (*Stream)(nil)
var _ brokers.Confirmer = (*Stream)(nil)

// Open prepares the publication and the slot (creating them if missing)
// and starts replicating from cfg.Start.
func Open(ctx context.Context, cfg Config) (*Stream, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := prepare(ctx, &cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstream: %w", err)
	}
	if p.slotCreated {
		cfg.Logger.Info("created replication slot", "slot", cfg.Slot, "at", p.confirmed)
		if cfg.Start.After != "" {
			cfg.Logger.Warn("replication slot was missing and is new: changes since the checkpoint are lost", "slot", cfg.Slot, "after", cfg.Start.After)
		}
	}
	for _, w := range p.warnings {
		cfg.Logger.Warn(w)
	}
	s := &Stream{cfg: cfg, dec: newDecoder(p.tables), warnings: p.warnings, done: make(chan struct{}),
		ready: make(chan struct{}), space: make(chan struct{}), flush: p.confirmed,
		confirmed: cfg.Start.After, ends: map[string]pglogrepl.LSN{}}
	start := pglogrepl.LSN(0) // the slot's confirmed position
	switch {
	case cfg.Start.After != "":
		start, _, _ = parseSeq(cfg.Start.After) // transactions that committed before it are done
	case cfg.Start.Position == "LATEST":
		start = p.current
		s.setFlush(p.current) // nothing older is wanted
	}
	if err := s.connect(ctx, start); err != nil {
		return nil, fmt.Errorf("pgstream: %w", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.receive(rctx)
	return s, nil
}

// connect opens the replication connection and starts streaming.
func (s *Stream) connect(ctx context.Context, start pglogrepl.LSN) error {
	pc, err := pgconn.ParseConfig(s.cfg.URL)
	if err != nil {
		return fmt.Errorf("parse URL: %w", err)
	}
	pc.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("connect for replication: %w", err)
	}
	opts := pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names " + quoteLiteral(s.cfg.Publication)}}
	// A reader that just closed holds the slot until its server process
	// has exited: wait for that, a little.
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		err = pglogrepl.StartReplication(ctx, conn, s.cfg.Slot, start, opts)
		if err == nil || !isCode(err, pgObjectInUse) || wait > slotBusyWait {
			break
		}
		if err := waitFor(ctx, nil, time.Now().Add(wait)); err != nil {
			break
		}
	}
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("start replication from slot %s: %w", s.cfg.Slot, err)
	}
	s.conn = conn
	return nil
}

// pgObjectInUse is SQLSTATE 55006: the slot is active for another process.
const pgObjectInUse = "55006"

// slotBusyWait bounds how long Open waits for a slot to be released.
const slotBusyWait = 5 * time.Second

// Warnings says what the stream cannot give as asked: tables whose
// images are incomplete for want of REPLICA IDENTITY FULL.
func (s *Stream) Warnings() []string { return s.warnings }

// Read returns up to max decoded changes, waiting for one if none is
// ready; after the connection failed it returns the error.
func (s *Stream) Read(ctx context.Context, max int) ([]brokers.Record, error) {
	for {
		s.mu.Lock()
		if n := min(max, len(s.buf)); n > 0 {
			out := make([]brokers.Record, n)
			copy(out, s.buf)
			s.buf = append(s.buf[:0], s.buf[n:]...)
			s.wakeReceiver()
			s.mu.Unlock()
			return out, nil
		}
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return nil, err
		}
		ready := s.ready
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ready:
		}
	}
}

// Confirm tells PostgreSQL that every change up to seq is processed, so
// that the slot moves on: the commit position of seq's transaction, or
// past it when seq is the transaction's last change. The report goes out
// soon, from the receiving goroutine; Confirm does not wait for it.
func (s *Stream) Confirm(_ context.Context, seq string) error {
	lsn, _, err := parseSeq(seq)
	if err != nil {
		return fmt.Errorf("pgstream: confirm: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq > s.confirmed {
		s.confirmed = seq
	}
	s.setFlush(lsn)
	s.advance()
	if s.flush > s.sent {
		s.reportNow = true
		if s.interrupt != nil {
			s.interrupt()
		}
		s.wakeReceiver()
	}
	return nil
}

// Close stops the receiver, which reports the confirmed position one last
// time and closes the connection.
func (s *Stream) Close() error {
	s.close.Do(func() {
		s.cancel()
		<-s.done
	})
	return nil
}

// setFlush moves the reported position forward (never back: PostgreSQL
// would take a smaller one). Callers hold mu.
func (s *Stream) setFlush(lsn pglogrepl.LSN) {
	if lsn > s.flush {
		s.flush = lsn
	}
}

// advance moves the flushed position past the transactions whose last
// change is confirmed, and to the end of the WAL the server has read when
// everything read is confirmed. Callers hold mu.
func (s *Stream) advance() {
	for seq, end := range s.ends {
		if seq <= s.confirmed {
			s.setFlush(end)
			delete(s.ends, seq)
		}
	}
	if s.idleEnd > 0 && len(s.buf) == 0 && s.confirmed >= s.lastQueued {
		s.setFlush(s.idleEnd)
	}
}

// wakeReceiver wakes a receiver waiting for room in buf. Callers hold mu.
func (s *Stream) wakeReceiver() {
	close(s.space)
	s.space = make(chan struct{})
}

// receive is the receiving goroutine.
func (s *Stream) receive(ctx context.Context) {
	defer close(s.done)
	err := s.loop(ctx)
	if ctx.Err() != nil {
		err = ErrClosed
		fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.report(fctx) // the last confirmed position
		cancel()
	} else {
		s.cfg.Logger.Warn("replication stream failed", "slot", s.cfg.Slot, "err", err)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = s.conn.Close(cctx)
	cancel()
	s.mu.Lock()
	s.err = err
	close(s.ready)
	s.mu.Unlock()
}

// loop receives and decodes until ctx ends or the connection fails,
// reporting the position when due.
func (s *Stream) loop(ctx context.Context) error {
	next := time.Now()
	for {
		s.mu.Lock()
		due := s.reportNow || !time.Now().Before(next)
		s.reportNow = false
		full, space := len(s.buf) >= s.cfg.Buffer, s.space
		s.mu.Unlock()
		if due {
			if err := s.report(ctx); err != nil {
				return err
			}
			next = time.Now().Add(s.cfg.StatusInterval)
		}
		if full {
			if err := waitFor(ctx, space, next); err != nil {
				return err
			}
			continue
		}
		msg, err := s.receiveOne(ctx, next)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if pgconn.Timeout(err) || errors.Is(err, context.Canceled) {
				continue // time to report, or a Confirm interrupted
			}
			return fmt.Errorf("receive: %w", err)
		}
		replyNow, err := s.handle(msg)
		if err != nil {
			return err
		}
		if replyNow {
			next = time.Time{}
		}
	}
}

// waitFor waits until ch is closed, deadline passes or ctx ends.
func waitFor(ctx context.Context, ch <-chan struct{}, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-ch:
	case <-t.C:
	}
	return nil
}

// receiveOne waits for the next message until deadline; a Confirm may cut
// the wait short so that its report goes out at once.
func (s *Stream) receiveOne(ctx context.Context, deadline time.Time) (pgproto3.BackendMessage, error) {
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	s.mu.Lock()
	if s.reportNow {
		s.mu.Unlock()
		return nil, context.Canceled
	}
	s.interrupt = cancel
	s.mu.Unlock()
	msg, err := s.conn.ReceiveMessage(rctx)
	s.mu.Lock()
	s.interrupt = nil
	s.mu.Unlock()
	return msg, err
}

// report sends the flushed position to PostgreSQL.
func (s *Stream) report(ctx context.Context) error {
	s.mu.Lock()
	pos := s.flush
	s.mu.Unlock()
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pos, WALFlushPosition: pos, WALApplyPosition: pos})
	if err != nil {
		return fmt.Errorf("send standby status: %w", err)
	}
	s.mu.Lock()
	s.sent = max(s.sent, pos)
	s.mu.Unlock()
	return nil
}

// handle processes one message of the replication stream; replyNow says
// the server asked for a status report.
func (s *Stream) handle(msg pgproto3.BackendMessage) (replyNow bool, err error) {
	switch m := msg.(type) {
	case *pgproto3.CopyData:
		if len(m.Data) == 0 {
			return false, nil
		}
		switch m.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
			if err != nil {
				return false, fmt.Errorf("parse keepalive: %w", err)
			}
			s.keepalive(ka.ServerWALEnd)
			return ka.ReplyRequested, nil
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(m.Data[1:])
			if err != nil {
				return false, fmt.Errorf("parse WAL data: %w", err)
			}
			return false, s.walData(xld.WALData)
		}
	case *pgproto3.ErrorResponse:
		return false, pgconn.ErrorResponseToPgError(m)
	case *pgproto3.CopyDone:
		return false, errors.New("the server ended the replication stream")
	}
	return false, nil
}

// keepalive notes the server's position: every change before it has been
// received, so once all of them are confirmed the slot may move there.
func (s *Stream) keepalive(walEnd pglogrepl.LSN) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dec.inTxn {
		s.idleEnd = walEnd
		s.advance()
	}
}

// walData decodes one pgoutput message and queues the change it holds,
// unless it is at or before Start.After (already processed).
func (s *Stream) walData(data []byte) error {
	d, err := s.dec.decode(data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idleEnd = 0
	if c := d.change; c != nil {
		rec, err := c.record(s.cfg.ViewType)
		if err != nil {
			return err
		}
		s.txnLast = rec.Seq
		if rec.Seq > s.cfg.Start.After {
			s.buf = append(s.buf, rec)
			s.lastQueued = rec.Seq
			close(s.ready)
			s.ready = make(chan struct{})
		}
	}
	if d.commit != nil && s.txnLast != "" {
		s.ends[s.txnLast] = d.commit.TransactionEndLSN
		s.txnLast = ""
		s.advance()
	}
	return nil
}
