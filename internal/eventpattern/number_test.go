package eventpattern

import "testing"

func TestCompareDecimals(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"0", "-0.0e5", 0},
		{"0.001", "0", 1},
		{"-0.001", "0", -1},
		{"300", "3.0e2", 0},
		{"300", "3.0e+2", 0},
		{"0.000123", "1.23e-4", 0},
		{"1.5", "1.45", 1},
		{"-1.5", "-1.45", -1},
		{"99", "100", -1},
		{"1e-7", "0.0000001", 0},
		{"12345678901234567890", "12345678901234567891", -1},
		{"0010.500", "10.5", 0},
	}
	for _, c := range cases {
		a, okA := parseDecimal(c.a)
		b, okB := parseDecimal(c.b)
		if !okA || !okB {
			t.Fatalf("parseDecimal(%q) ok=%v, parseDecimal(%q) ok=%v", c.a, okA, c.b, okB)
		}
		if got := compareDecimals(a, b); got != c.want {
			t.Errorf("compareDecimals(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareDecimals(b, a); got != -c.want {
			t.Errorf("compareDecimals(%s, %s) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func TestParseDecimalRejects(t *testing.T) {
	for _, s := range []string{"", "-", ".5", "5.", "1e", "1e+", "0x10", "1.2.3", "NaN", "1e1234567890123456"} {
		if _, ok := parseDecimal(s); ok {
			t.Errorf("parseDecimal(%q) ok, want rejected", s)
		}
	}
}

func TestDecimalPlaces(t *testing.T) {
	for s, want := range map[string]int64{"5": 0, "3.018e2": 1, "0.000001": 6, "1.5e-6": 7, "100.10": 1} {
		d, _ := parseDecimal(s)
		if got := d.decimalPlaces(); got != want {
			t.Errorf("decimalPlaces(%s) = %d, want %d", s, got, want)
		}
	}
}
