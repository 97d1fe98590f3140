package envpool

import (
	"context"
	"testing"
	"time"

	"gust/internal/lambda"
)

// expiringLauncher is shellLauncher with launches that expire after ttl,
// as role credentials do.
type expiringLauncher struct {
	shellLauncher
	ttl time.Duration
}

func (l expiringLauncher) Prepare(ctx context.Context, fn *lambda.Function) (LaunchSpec, error) {
	spec, err := l.shellLauncher.Prepare(ctx, fn)
	spec.Expires = time.Now().Add(l.ttl)
	return spec, err
}

func TestRetireTime(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expires, want time.Time
	}{
		{time.Time{}, time.Time{}},
		{now.Add(6 * time.Hour), now.Add(6*time.Hour - credentialMargin)},
		{now.Add(40 * time.Minute), now.Add(20 * time.Minute)},
	} {
		if got := retireTime(tc.expires, now); !got.Equal(tc.want) {
			t.Errorf("retireTime(%v) = %v, want %v", tc.expires, got, tc.want)
		}
	}
}

// TestEnvironmentRetiresBeforeItsLaunchExpires: an environment is reused
// while its launch (its credentials) is fresh, and replaced by a cold
// start, never reused, once it is past its retirement.
func TestEnvironmentRetiresBeforeItsLaunchExpires(t *testing.T) {
	m, _ := newShellManager(t, "", time.Minute)
	m.opts.Launcher = expiringLauncher{shellLauncher: m.opts.Launcher.(shellLauncher), ttl: 600 * time.Millisecond}
	fn := testFunction("$LATEST", "r1")

	start := time.Now()
	if o, _ := invokeOnce(t, m, fn, `{}`); o.InitDuration == 0 {
		t.Fatal("first invoke was not a cold start")
	}
	if o, _ := invokeOnce(t, m, fn, `{}`); o.InitDuration != 0 && time.Since(start) < 250*time.Millisecond {
		t.Errorf("second invoke, before retirement, was a cold start")
	}
	// Retirement is half-way through this short lifetime: 300 ms.
	waitFor(t, "retirement", func() bool { return time.Since(start) > 350*time.Millisecond })
	if o, _ := invokeOnce(t, m, fn, `{}`); o.InitDuration == 0 {
		t.Errorf("invoke after retirement reused the retired environment")
	}
	waitFor(t, "the retired environment to stop", func() bool { return m.Stats().Total == 1 })
}
