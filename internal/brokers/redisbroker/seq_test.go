package redisbroker

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSeqRoundTrip(t *testing.T) {
	tests := []struct {
		id, seq string
	}{
		{"0-0", "0000000000000000000000000000000000000000"},
		{"1700000000000-5", "0000000170000000000000000000000000000005"},
		{"18446744073709551615-18446744073709551615", "1844674407370955161518446744073709551615"},
	}
	for _, tt := range tests {
		seq, err := SeqFromID(tt.id)
		if err != nil || seq != tt.seq {
			t.Errorf("SeqFromID(%q) = %q, %v; want %q", tt.id, seq, err, tt.seq)
		}
		id, err := IDFromSeq(tt.seq)
		if err != nil || id != tt.id {
			t.Errorf("IDFromSeq(%q) = %q, %v; want %q", tt.seq, id, err, tt.id)
		}
	}
}

func TestSeqOrdersAsStrings(t *testing.T) {
	// In stream order; note 9-x < 10-x although "9" > "10" as strings.
	ids := []string{"0-1", "9-0", "9-2", "9-10", "10-0", "1700000000000-0", "1700000000000-1", "1700000000001-0"}
	var seqs []string
	for _, id := range ids {
		seq, err := SeqFromID(id)
		if err != nil {
			t.Fatalf("SeqFromID(%q): %v", id, err)
		}
		seqs = append(seqs, seq)
	}
	if !slices.IsSorted(seqs) {
		t.Errorf("seqs of ids in stream order are not sorted as strings: %q", seqs)
	}
}

// TestSeqPastTheLastSequence: a Seq just before a millisecond's first
// one, as decrementing it gives, stands for that millisecond's last ID.
func TestSeqPastTheLastSequence(t *testing.T) {
	first, err := SeqFromID("1795816091704-0")
	if err != nil {
		t.Fatal(err)
	}
	before := "00000001795816091703" + strings.Repeat("9", 20) // first, decremented
	if before >= first {
		t.Fatalf("%q does not order before %q", before, first)
	}
	id, err := IDFromSeq(before)
	if want := "1795816091703-18446744073709551615"; err != nil || id != want {
		t.Errorf("IDFromSeq(%q) = %q, %v; want %q", before, id, err, want)
	}
}

func TestSeqRejectsMalformed(t *testing.T) {
	for _, id := range []string{"", "12", "12-", "-3", "a-1", "1-b", "1-2-3", "18446744073709551616-0", "+1-0"} {
		if seq, err := SeqFromID(id); err == nil {
			t.Errorf("SeqFromID(%q) = %q, want an error", id, seq)
		}
	}
	for _, seq := range []string{"", "123", "000000000000000000000000000000000000000x", "99999999999999999999" + "00000000000000000000", "+0000000000000000000" + "00000000000000000001"} {
		if id, err := IDFromSeq(seq); err == nil {
			t.Errorf("IDFromSeq(%q) = %q, want an error", seq, id)
		}
	}
}

func TestIDTime(t *testing.T) {
	if got, want := idTime("1700000000123-4"), time.UnixMilli(1700000000123); !got.Equal(want) {
		t.Errorf("idTime = %v, want %v", got, want)
	}
	if got := idTime("nonsense"); !got.IsZero() {
		t.Errorf("idTime(nonsense) = %v, want zero", got)
	}
}

func FuzzSeqFromID(f *testing.F) {
	for _, id := range []string{"0-0", "1700000000000-5", "1-18446744073709551615", "x-1"} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		seq, err := SeqFromID(id)
		if err != nil {
			return
		}
		if len(seq) != 40 {
			t.Fatalf("SeqFromID(%q) = %q, not 40 digits", id, seq)
		}
		back, err := IDFromSeq(seq)
		if err != nil {
			t.Fatalf("IDFromSeq(SeqFromID(%q)) failed: %v", id, err)
		}
		ms1, n1, _ := parseID(id)
		ms2, n2, err := parseID(back)
		if err != nil || ms1 != ms2 || n1 != n2 {
			t.Fatalf("round trip %q -> %q -> %q changed the id", id, seq, back)
		}
	})
}

func FuzzIDFromSeq(f *testing.F) {
	f.Add("0000000170000000000000000000000000000005")
	f.Add("1844674407370955161518446744073709551615")
	f.Fuzz(func(t *testing.T, seq string) {
		id, err := IDFromSeq(seq)
		if err != nil {
			return
		}
		want := seq
		if _, err := strconv.ParseUint(seq[20:], 10, 64); err != nil {
			want = seq[:20] + "18446744073709551615" // the millisecond's last ID
		}
		back, err := SeqFromID(id)
		if err != nil || back != want {
			t.Fatalf("SeqFromID(IDFromSeq(%q)) = %q, %v; want %q", seq, back, err, want)
		}
	})
}
