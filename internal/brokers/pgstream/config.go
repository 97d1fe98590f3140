package pgstream

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"gust/internal/brokers"
	"gust/internal/lazyre"
)

// Config configures Open.
type Config struct {
	// URL is a postgres:// or postgresql:// connection URL. Its user
	// needs the REPLICATION attribute (or superuser) and, when the
	// publication is missing, ownership of the tables.
	URL string
	// Tables are "schema.table" names, as the catalog spells them.
	Tables []string
	// ViewType is KeysOnly, NewImage, OldImage or NewAndOldImages
	// (default NewAndOldImages).
	ViewType string
	// Slot and Publication name the logical replication slot and the
	// publication; both are created when missing. Required.
	Slot        string
	Publication string
	// Start is where reading starts: After a Seq (a checkpoint), at the
	// slot's confirmed position (TRIM_HORIZON) or at the current end of
	// the WAL (LATEST). AT_TIMESTAMP is not supported.
	Start brokers.StartAt
	// StatusInterval is how often the reader reports its position to
	// PostgreSQL when nothing else makes it (default 10 s; PostgreSQL
	// drops a silent reader after wal_sender_timeout, 60 s by default).
	StatusInterval time.Duration
	// Buffer is how many changes the reader decodes ahead of Read
	// (default 4096); past it, it stops reading the connection.
	Buffer int
	Logger *slog.Logger
}

// ValidTable is the form of a table name: "schema.table", each part an
// unquoted SQL identifier.
var ValidTable = lazyre.New(`^[A-Za-z_][A-Za-z0-9_$]{0,62}\.[A-Za-z_][A-Za-z0-9_$]{0,62}$`)

// ValidSlot is the alphabet of slot and publication names Gust makes and
// accepts (PostgreSQL's for slots).
var ValidSlot = lazyre.New(`^[a-z0-9_]{1,63}$`)

// ViewTypes lists the stream view types.
var ViewTypes = []string{KeysOnly, NewImage, OldImage, NewAndOldImages}

// withDefaults checks cfg and fills its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if !strings.HasPrefix(cfg.URL, "postgres://") && !strings.HasPrefix(cfg.URL, "postgresql://") {
		return cfg, errors.New("pgstream: the URL must start with postgres:// or postgresql://")
	}
	if len(cfg.Tables) == 0 {
		return cfg, errors.New("pgstream: no tables")
	}
	for _, t := range cfg.Tables {
		if !ValidTable.MatchString(t) {
			return cfg, fmt.Errorf("pgstream: table %q is not schema.table", t)
		}
	}
	if cfg.ViewType == "" {
		cfg.ViewType = NewAndOldImages
	}
	if !slices.Contains(ViewTypes, cfg.ViewType) {
		return cfg, fmt.Errorf("pgstream: unknown stream view type %q", cfg.ViewType)
	}
	if !ValidSlot.MatchString(cfg.Slot) || !ValidSlot.MatchString(cfg.Publication) {
		return cfg, fmt.Errorf("pgstream: slot %q and publication %q must be 1 to 63 of [a-z0-9_]", cfg.Slot, cfg.Publication)
	}
	if cfg.Start.After != "" {
		if _, _, err := parseSeq(cfg.Start.After); err != nil {
			return cfg, fmt.Errorf("pgstream: start after: %w", err)
		}
	}
	if cfg.Start.After == "" && cfg.Start.Position != "TRIM_HORIZON" && cfg.Start.Position != "LATEST" {
		return cfg, fmt.Errorf("pgstream: starting position %q: use TRIM_HORIZON or LATEST", cfg.Start.Position)
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
