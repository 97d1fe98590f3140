package pgstream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgDuplicateObject is SQLSTATE 42710: a publication or slot made by
// someone else in the meantime.
const pgDuplicateObject = "42710"

// prepared is what Open learns and sets up over an ordinary connection
// before it starts replicating.
type prepared struct {
	tables      map[string]*tableInfo
	warnings    []string
	confirmed   pglogrepl.LSN // the slot's confirmed_flush_lsn
	slotCreated bool
	current     pglogrepl.LSN // the end of the WAL, for LATEST
}

// prepare checks that the server can decode logically and that the
// tables exist, notes the tables whose images will be incomplete, and
// creates the publication and the slot when they are missing.
func prepare(ctx context.Context, cfg *Config) (*prepared, error) {
	conn, err := pgconn.Connect(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	rows, err := query(ctx, conn, "SELECT current_setting('wal_level')")
	if err != nil {
		return nil, err
	}
	if level := rows[0][0]; level != "logical" {
		return nil, fmt.Errorf("wal_level is %s: change streams need wal_level=logical (postgresql.conf, then restart PostgreSQL)", level)
	}
	p := &prepared{tables: map[string]*tableInfo{}}
	for _, name := range cfg.Tables {
		t, err := lookupTable(ctx, conn, name)
		if err != nil {
			return nil, err
		}
		p.tables[name] = t
		if t.replident != 'f' && cfg.ViewType != KeysOnly {
			p.warnings = append(p.warnings, fmt.Sprintf("table %s has REPLICA IDENTITY %s, not FULL: OldImage holds only its key columns "+
				"and unchanged TOASTed columns are left out of NewImage (ALTER TABLE %s REPLICA IDENTITY FULL)", name, identityName(t.replident), name))
		}
	}
	if err := ensurePublication(ctx, conn, cfg.Publication, cfg.Tables); err != nil {
		return nil, err
	}
	if p.confirmed, p.slotCreated, err = ensureSlot(ctx, conn, cfg.Slot); err != nil {
		return nil, err
	}
	// The insert position, not the write position: with asynchronous
	// commit the latest commits may not be written yet.
	rows, err = query(ctx, conn, "SELECT pg_current_wal_insert_lsn()::text")
	if err != nil {
		return nil, err
	}
	if p.current, err = pglogrepl.ParseLSN(rows[0][0]); err != nil {
		return nil, fmt.Errorf("current WAL position: %w", err)
	}
	return p, nil
}

func identityName(replident byte) string {
	switch replident {
	case 'd':
		return "DEFAULT"
	case 'i':
		return "USING INDEX"
	case 'n':
		return "NOTHING"
	}
	return string(replident)
}

// lookupTable reads a table's replica identity and its key columns: the
// primary key's, else the replica identity index's.
func lookupTable(ctx context.Context, conn *pgconn.PgConn, name string) (*tableInfo, error) {
	schema, table, _ := strings.Cut(name, ".")
	rows, err := query(ctx, conn, `SELECT c.oid::text, c.relreplident::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, table)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("table %s not found", name)
	}
	oid, replident := rows[0][0], rows[0][1]
	keys, err := query(ctx, conn, `SELECT a.attname FROM pg_index i
		CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1::oid AND (i.indisprimary OR (i.indisreplident AND NOT EXISTS
			(SELECT 1 FROM pg_index p WHERE p.indrelid = $1::oid AND p.indisprimary)))
		ORDER BY k.ord`, oid)
	if err != nil {
		return nil, err
	}
	t := &tableInfo{name: name, replident: replident[0]}
	for _, k := range keys {
		t.keyCols = append(t.keyCols, k[0])
	}
	return t, nil
}

// ensurePublication creates the publication for the tables, or adds to an
// existing one the tables it lacks.
func ensurePublication(ctx context.Context, conn *pgconn.PgConn, pub string, tables []string) error {
	rows, err := query(ctx, conn, "SELECT 1 FROM pg_publication WHERE pubname = $1", pub)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		err := exec(ctx, conn, "CREATE PUBLICATION "+quoteIdent(pub)+" FOR TABLE "+tableList(tables))
		if err == nil || !isCode(err, pgDuplicateObject) {
			return err
		}
	}
	have, err := query(ctx, conn, "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1", pub)
	if err != nil {
		return err
	}
	published := map[string]bool{}
	for _, r := range have {
		published[r[0]] = true
	}
	var missing []string
	for _, t := range tables {
		if !published[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return exec(ctx, conn, "ALTER PUBLICATION "+quoteIdent(pub)+" ADD TABLE "+tableList(missing))
}

// ensureSlot returns the slot's confirmed position, creating the slot
// (pgoutput) when it is missing.
func ensureSlot(ctx context.Context, conn *pgconn.PgConn, slot string) (pglogrepl.LSN, bool, error) {
	for range 2 {
		rows, err := query(ctx, conn, `SELECT plugin, database = current_database(), coalesce(confirmed_flush_lsn::text, '')
			FROM pg_replication_slots WHERE slot_name = $1`, slot)
		if err != nil {
			return 0, false, err
		}
		if len(rows) == 1 {
			plugin, here, confirmed := rows[0][0], rows[0][1], rows[0][2]
			if plugin != "pgoutput" || here != "t" || confirmed == "" {
				return 0, false, fmt.Errorf("replication slot %s exists but is not a pgoutput slot of this database: name another slot", slot)
			}
			lsn, err := pglogrepl.ParseLSN(confirmed)
			return lsn, false, err
		}
		rows, err = query(ctx, conn, "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", slot)
		if err != nil && isCode(err, pgDuplicateObject) {
			continue // made by another reader meanwhile: read it
		}
		if err != nil {
			return 0, false, err
		}
		lsn, err := pglogrepl.ParseLSN(rows[0][0])
		return lsn, true, err
	}
	return 0, false, fmt.Errorf("replication slot %s: created and dropped concurrently", slot)
}

// DropSlot drops a replication slot, so that PostgreSQL stops keeping WAL
// for it. A missing slot is not an error; one in use is.
func DropSlot(ctx context.Context, url, slot string) error {
	conn, err := pgconn.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("drop slot %s: connect: %w", slot, err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = query(ctx, conn, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
	if err != nil {
		return fmt.Errorf("drop slot %s: %w", slot, err)
	}
	return nil
}

// query runs a statement with text parameters and returns its rows as
// text (NULL as "").
func query(ctx context.Context, conn *pgconn.PgConn, sql string, args ...string) ([][]string, error) {
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a)
	}
	res := conn.ExecParams(ctx, sql, params, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, fmt.Errorf("query %q: %w", firstLine(sql), res.Err)
	}
	out := make([][]string, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = make([]string, len(row))
		for j, v := range row {
			out[i][j] = string(v)
		}
	}
	return out, nil
}

// exec runs one statement without parameters (DDL takes none).
func exec(ctx context.Context, conn *pgconn.PgConn, sql string) error {
	if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("%s: %w", firstLine(sql), err)
	}
	return nil
}

func firstLine(sql string) string {
	line, _, _ := strings.Cut(sql, "\n")
	return line
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// tableList renders "schema.table" names as quoted, qualified names.
func tableList(tables []string) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		schema, table, _ := strings.Cut(t, ".")
		parts[i] = quoteIdent(schema) + "." + quoteIdent(table)
	}
	return strings.Join(parts, ", ")
}

// quoteLiteral quotes a string for the replication protocol's options,
// which take no parameters.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
