package logs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	groupMetaFile = "group.json"
	segmentExt    = ".jsonl"
	maxDirName    = 200
	maxLineBytes  = 8 << 20 // a 1 MiB message escapes to at most ~6 MiB
)

// segment summarises one segment file. Once published in group.segs it is
// never modified: the flusher publishes a new *segment when it appends.
type segment struct {
	id           uint64
	path         string
	bytes        int64 // valid bytes, always ending on a line boundary
	minTs, maxTs int64
	streams      map[string]span
}

// span is what one segment holds of one stream.
type span struct {
	count         int64
	bytes         int64
	firstTs       int64
	lastTs        int64
	lastIngestion int64
	minIngestion  int64
	lastSeq       uint64
}

func (sg *segment) clone() *segment {
	c := *sg
	c.streams = maps.Clone(sg.streams)
	return &c
}

// add accounts for one record of n bytes.
func (sg *segment) add(r *record, n int64) {
	if sg.bytes == 0 && len(sg.streams) == 0 {
		sg.minTs, sg.maxTs = r.Timestamp, r.Timestamp
	}
	sg.minTs = min(sg.minTs, r.Timestamp)
	sg.maxTs = max(sg.maxTs, r.Timestamp)
	sg.bytes += n
	sp, ok := sg.streams[r.stream]
	if !ok {
		sp = span{firstTs: r.Timestamp, lastTs: r.Timestamp, minIngestion: r.Ingestion}
	}
	sp.count++
	sp.bytes += n
	sp.firstTs = min(sp.firstTs, r.Timestamp)
	sp.lastTs = max(sp.lastTs, r.Timestamp)
	sp.lastIngestion = max(sp.lastIngestion, r.Ingestion)
	sp.minIngestion = min(sp.minIngestion, r.Ingestion)
	sp.lastSeq = max(sp.lastSeq, r.seq)
	sg.streams[r.stream] = sp
}

// diskRecord is one line of a segment file.
type diskRecord struct {
	Stream    string `json:"s"`
	Seq       uint64 `json:"q"`
	Timestamp int64  `json:"t"`
	Ingestion int64  `json:"i"`
	Message   string `json:"m"`
}

func (d *diskRecord) record() record {
	return record{stream: d.Stream, seq: d.Seq, Event: Event{Timestamp: d.Timestamp, Message: d.Message, Ingestion: d.Ingestion}}
}

// groupMeta is group.json.
type groupMeta struct {
	Name            string `json:"name"`
	CreationTime    int64  `json:"creationTime"`
	RetentionInDays int    `json:"retentionInDays,omitempty"`
}

// groupDir names the directory of a group. Every byte outside
// [A-Za-z0-9_-] becomes %XX, so no name can produce ".", ".." or a path
// separator; names too long for a file name are cut and given a hash.
func groupDir(root, name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	enc := b.String()
	if len(enc) > maxDirName {
		sum := sha256.Sum256([]byte(name))
		enc = enc[:maxDirName-33] + "~" + hex.EncodeToString(sum[:16])
	}
	return filepath.Join(root, enc)
}

func segmentPath(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016d%s", id, segmentExt))
}

// readSegment calls fn for every decodable line in the first size bytes of
// the file. Lines that do not decode (a torn write) are skipped.
func readSegment(path string, size int64, fn func(d *diskRecord, n int64)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, size))
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	for sc.Scan() {
		var r diskRecord
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		fn(&r, int64(len(sc.Bytes()))+1)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read segment %s: %w", filepath.Base(path), err)
	}
	return nil
}

// load rebuilds every group found under the directory. A directory that
// cannot be read is logged and skipped rather than failing the server.
func (s *Store) load() error {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(s.opts.Dir, e.Name())
		g, err := s.loadGroup(dir)
		if err != nil {
			s.log.Warn("skipping unreadable log group directory", "dir", dir, "err", err)
			continue
		}
		if _, dup := s.groups[g.name]; dup {
			s.log.Warn("skipping duplicate log group directory", "dir", dir, "group", g.name)
			continue
		}
		s.groups[g.name] = g
	}
	return nil
}

func (s *Store) loadGroup(dir string) (*group, error) {
	b, err := os.ReadFile(filepath.Join(dir, groupMetaFile))
	if err != nil {
		return nil, fmt.Errorf("load group: %w", err)
	}
	var meta groupMeta
	if err := json.Unmarshal(b, &meta); err != nil || meta.Name == "" {
		return nil, fmt.Errorf("load group: bad %s: %v", groupMetaFile, err)
	}
	g := s.newGroup(meta.Name, meta.CreationTime)
	g.dir, g.onDisk, g.sealed = dir, true, true
	g.retention = meta.RetentionInDays

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load group: %w", err)
	}
	var ids []uint64
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), segmentExt)
		if !ok || e.IsDir() {
			continue
		}
		id, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var maxSeq uint64
	var seen bool
	for _, id := range ids {
		path := segmentPath(dir, id)
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("load group: %w", err)
		}
		sg := &segment{id: id, path: path, streams: make(map[string]span)}
		err = readSegment(path, fi.Size(), func(d *diskRecord, n int64) {
			r := d.record()
			sg.add(&r, n)
			maxSeq, seen = max(maxSeq, d.Seq), true
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("log segment partly unreadable", "path", path, "err", err)
		}
		sg.bytes = fi.Size()
		if len(sg.streams) == 0 {
			_ = os.Remove(path) // empty or wholly torn: nothing to keep
			continue
		}
		g.segs = append(g.segs, sg)
		g.nextSegID = id + 1
	}
	if seen {
		g.nextSeq = maxSeq + 1
	}
	for _, sg := range g.segs {
		for name, sp := range sg.streams {
			if c, ok := g.streams[name]; !ok || sp.minIngestion < c {
				g.streams[name] = sp.minIngestion
			}
		}
	}
	// A smaller bound than last time takes effect at once.
	for _, sg := range s.evict(g) {
		_ = os.Remove(sg.path)
	}
	return g, nil
}

// writeGroupMeta creates the group's directory and group.json, which holds
// the retention (days, 0: none) too. Caller holds Store.ioMu.
func writeGroupMeta(g *group, retention int) error {
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(groupMeta{Name: g.name, CreationTime: g.created, RetentionInDays: retention})
	if err != nil {
		return err
	}
	tmp := filepath.Join(g.dir, groupMetaFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(g.dir, groupMetaFile))
}
