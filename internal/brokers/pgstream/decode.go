package pgstream

import (
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pglogrepl"
)

// tableInfo is what the catalog says about one of the source's tables.
type tableInfo struct {
	name      string   // "schema.table"
	keyCols   []string // primary key (or replica identity index) columns, in key order
	replident byte     // pg_class.relreplident: 'd', 'f', 'i' or 'n'
}

// relation is a table as the replication stream describes it: its columns
// in tuple order.
type relation struct {
	table   string
	columns []*pglogrepl.RelationMessageColumn
	keyCols []string
}

// decoder turns pgoutput messages into row changes. It keeps the
// relations the stream announced (PostgreSQL announces each again on a
// new connection before its first change) and the transaction being read.
type decoder struct {
	tables map[string]*tableInfo // by "schema.table"
	rels   map[uint32]*relation

	inTxn     bool
	commitLSN pglogrepl.LSN
	committed time.Time
	index     int // of the next change in the transaction
}

func newDecoder(tables map[string]*tableInfo) *decoder {
	return &decoder{tables: tables, rels: map[uint32]*relation{}}
}

// decoded is what one message gave: a row change, the end of a
// transaction, or neither.
type decoded struct {
	change *change
	commit *pglogrepl.CommitMessage
}

// decode reads one pgoutput message (protocol version 1).
func (d *decoder) decode(walData []byte) (decoded, error) {
	msg, err := pglogrepl.Parse(walData)
	if err != nil {
		return decoded{}, fmt.Errorf("parse pgoutput message: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		d.inTxn, d.commitLSN, d.committed, d.index = true, m.FinalLSN, m.CommitTime, 0
	case *pglogrepl.CommitMessage:
		d.inTxn = false
		return decoded{commit: m}, nil
	case *pglogrepl.RelationMessage:
		d.relationMessage(m)
	case *pglogrepl.InsertMessage:
		return d.rowChange(m.RelationID, func(r *relation) *change { return r.insert(m) })
	case *pglogrepl.UpdateMessage:
		return d.rowChange(m.RelationID, func(r *relation) *change { return r.update(m) })
	case *pglogrepl.DeleteMessage:
		return d.rowChange(m.RelationID, func(r *relation) *change { return r.remove(m) })
	}
	// Truncate, Type and Origin messages have no DynamoDB counterpart.
	return decoded{}, nil
}

func (d *decoder) relationMessage(m *pglogrepl.RelationMessage) {
	name := m.Namespace + "." + m.RelationName
	r := &relation{table: name, columns: m.Columns}
	if t := d.tables[name]; t != nil && len(t.keyCols) > 0 {
		r.keyCols = t.keyCols
	} else if m.ReplicaIdentity != 'f' {
		for _, c := range m.Columns {
			if c.Flags&1 != 0 {
				r.keyCols = append(r.keyCols, c.Name)
			}
		}
	}
	d.rels[m.RelationID] = r
}

// rowChange builds the change of a row message of a relation of the
// source, numbering it within its transaction; changes of other tables
// (a publication shared with others) are passed over.
func (d *decoder) rowChange(relID uint32, build func(*relation) *change) (decoded, error) {
	r := d.rels[relID]
	if r == nil {
		return decoded{}, fmt.Errorf("row change of relation %d before its relation message", relID)
	}
	if _, ours := d.tables[r.table]; !ours {
		return decoded{}, nil
	}
	if !d.inTxn {
		return decoded{}, fmt.Errorf("row change of %s outside a transaction", r.table)
	}
	c := build(r)
	c.table, c.commitLSN, c.committed, c.index = r.table, d.commitLSN, d.committed, d.index
	d.index++
	return decoded{change: c}, nil
}

func (r *relation) insert(m *pglogrepl.InsertMessage) *change {
	img, _ := r.image(m.Tuple, false)
	return &change{event: EventInsert, keys: r.keysOf(img), newImage: img}
}

// update fills the columns PostgreSQL left out as unchanged (TOASTed
// values it did not rewrite) from the old row when it sent one (REPLICA
// IDENTITY FULL); without one they are left out of NewImage. The old image
// is the old row, or as much of it as the table's replica identity gives:
// its key columns.
func (r *relation) update(m *pglogrepl.UpdateMessage) *change {
	img, unchanged := r.image(m.NewTuple, false)
	var old Image
	switch m.OldTupleType {
	case pglogrepl.UpdateMessageTupleTypeOld:
		old, _ = r.image(m.OldTuple, false)
	case pglogrepl.UpdateMessageTupleTypeKey:
		old, _ = r.image(m.OldTuple, true)
	}
	for _, col := range unchanged {
		if v, ok := old[col]; ok {
			img[col] = v
		}
	}
	keys := r.keysOf(img)
	if old == nil {
		old = keys
	}
	return &change{event: EventModify, keys: keys, newImage: img, oldImage: old}
}

func (r *relation) remove(m *pglogrepl.DeleteMessage) *change {
	old, _ := r.image(m.OldTuple, m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey)
	return &change{event: EventRemove, keys: r.keysOf(old), oldImage: old}
}

// image renders a tuple as attribute values by column name, and names the
// columns sent as unchanged TOASTed values, which it leaves out. keyOnly
// keeps the replica identity columns alone (a key tuple sends the others as
// nulls).
func (r *relation) image(t *pglogrepl.TupleData, keyOnly bool) (Image, []string) {
	if t == nil {
		return nil, nil
	}
	img := make(Image, len(t.Columns))
	var unchanged []string
	for i, col := range t.Columns {
		if i >= len(r.columns) {
			break
		}
		meta := r.columns[i]
		if keyOnly && meta.Flags&1 == 0 {
			continue
		}
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			img[meta.Name] = Value{Type: "NULL"}
		case pglogrepl.TupleDataTypeToast:
			unchanged = append(unchanged, meta.Name)
		case pglogrepl.TupleDataTypeBinary:
			img[meta.Name] = Value{Type: "B", Bin: slices.Clone(col.Data)}
		default:
			img[meta.Name] = convert(meta.DataType, string(col.Data))
		}
	}
	return img, unchanged
}

// keysOf picks the key columns out of an image; a table without a key
// (no primary key, replica identity FULL) is keyed by the whole row.
func (r *relation) keysOf(img Image) Image {
	if len(r.keyCols) == 0 {
		return img
	}
	keys := make(Image, len(r.keyCols))
	for _, k := range r.keyCols {
		if v, ok := img[k]; ok {
			keys[k] = v
		}
	}
	return keys
}
