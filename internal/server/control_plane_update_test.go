package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"

	"gust/internal/gusttest"
)

const cpStaleRevision = "00000000-0000-4000-8000-000000000000"

// cpParseLastModified parses Lambda's LastModified layout.
func cpParseLastModified(t testing.TB, s *string) time.Time {
	t.Helper()
	tm, err := time.Parse("2006-01-02T15:04:05.000-0700", aws.ToString(s))
	if err != nil {
		t.Fatalf("LastModified %q: %v", aws.ToString(s), err)
	}
	return tm
}

// cpTick waits until the clock has moved past a millisecond-precision
// LastModified, so that the next mutation must stamp a later one.
func cpTick(t testing.TB, lastModified *string) time.Time {
	t.Helper()
	lm := cpParseLastModified(t, lastModified)
	gusttest.WaitFor(t, time.Second, "the clock to pass LastModified", func() bool {
		return time.Now().After(lm.Add(2 * time.Millisecond))
	})
	return lm
}

// cpConfig fetches the stored $LATEST configuration.
func cpConfig(t testing.TB, c *lambda.Client, name string) *lambda.GetFunctionConfigurationOutput {
	t.Helper()
	out, err := c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("get configuration %s: %v", name, err)
	}
	return out
}

// cpSame compares the fields of two configurations that a rejected
// mutation must leave alone.
func cpSame(t testing.TB, what string, want, got *lambda.GetFunctionConfigurationOutput) {
	t.Helper()
	type view struct {
		Sha, Rev, LastModified, Handler, Description string
		Runtime                                      types.Runtime
		Timeout, Memory                              int32
		Env                                          map[string]string
	}
	v := func(o *lambda.GetFunctionConfigurationOutput) view {
		x := view{Sha: aws.ToString(o.CodeSha256), Rev: aws.ToString(o.RevisionId), LastModified: aws.ToString(o.LastModified),
			Handler: aws.ToString(o.Handler), Description: aws.ToString(o.Description), Runtime: o.Runtime,
			Timeout: aws.ToInt32(o.Timeout), Memory: aws.ToInt32(o.MemorySize)}
		if o.Environment != nil {
			x.Env = o.Environment.Variables
		}
		return x
	}
	if diff := cmp.Diff(v(want), v(got)); diff != "" {
		t.Errorf("%s changed the function (-before +after):\n%s", what, diff)
	}
}

func TestUpdateFunctionCode(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zipA, zipB := cpNodeZip(t, "A"), cpNodeZip(t, "B")
	cpCreate(t, c, "code", zipA, nil)
	before := cpConfig(t, c, "code")
	lm := cpTick(t, before.LastModified)

	dry, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("code"), ZipFile: zipB, DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if aws.ToString(dry.FunctionName) != "code" {
		t.Errorf("dry run answered %+v", dry)
	}
	cpSame(t, "DryRun", before, cpConfig(t, c, "code"))

	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("code"), ZipFile: zipB, RevisionId: aws.String(cpStaleRevision)})
	cpWantErr(t, err, "PreconditionFailedException", 412, "Revision Id")
	cpSame(t, "stale RevisionId", before, cpConfig(t, c, "code"))

	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("code"), ZipFile: []byte("not a zip")})
	cpWantErr(t, err, "InvalidParameterValueException", 400, "Could not unzip")
	cpSame(t, "invalid zip", before, cpConfig(t, c, "code"))

	out, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("code"), ZipFile: zipB, RevisionId: before.RevisionId})
	if err != nil {
		t.Fatalf("update with current RevisionId: %v", err)
	}
	if aws.ToString(out.CodeSha256) != cpSha(zipB) || out.CodeSize != int64(len(zipB)) {
		t.Errorf("CodeSha256, CodeSize = %s, %d; want %s, %d", aws.ToString(out.CodeSha256), out.CodeSize, cpSha(zipB), len(zipB))
	}
	if rev := aws.ToString(out.RevisionId); rev == aws.ToString(before.RevisionId) || !cpUUID.MatchString(rev) {
		t.Errorf("RevisionId = %q, want a new UUID", rev)
	}
	if got := cpParseLastModified(t, out.LastModified); !got.After(lm) {
		t.Errorf("LastModified = %s, want after %s", got, lm)
	}
	if out.State != types.StateActive || out.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("State, LastUpdateStatus = %s, %s", out.State, out.LastUpdateStatus)
	}
	after := cpConfig(t, c, "code")
	if aws.ToString(after.RevisionId) != aws.ToString(out.RevisionId) || aws.ToString(after.CodeSha256) != cpSha(zipB) {
		t.Errorf("stored after update: %s %s", aws.ToString(after.RevisionId), aws.ToString(after.CodeSha256))
	}
	// The old RevisionId is stale now.
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("code"), ZipFile: zipA, RevisionId: before.RevisionId})
	cpWantErr(t, err, "PreconditionFailedException", 412, "")

	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("nope"), ZipFile: zipA})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"nope")
}

func TestUpdateFunctionConfiguration(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	cpCreate(t, c, "conf", cpNodeZip(t, "A"), func(in *lambda.CreateFunctionInput) {
		in.Description = aws.String("d1")
		in.Timeout = aws.Int32(5)
		in.MemorySize = aws.Int32(256)
		in.Environment = &types.Environment{Variables: map[string]string{"AA": "1", "BB": "2"}}
	})
	before := cpConfig(t, c, "conf")
	lm := cpTick(t, before.LastModified)

	out, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("conf"), Description: aws.String("d2")})
	if err != nil {
		t.Fatalf("update description: %v", err)
	}
	if aws.ToString(out.Description) != "d2" || aws.ToInt32(out.Timeout) != 5 || aws.ToInt32(out.MemorySize) != 256 ||
		aws.ToString(out.Handler) != "index.handler" || out.Runtime != types.RuntimeNodejs20x ||
		!cmp.Equal(out.Environment.Variables, map[string]string{"AA": "1", "BB": "2"}) {
		t.Errorf("partial update lost fields: %+v env %v", out, out.Environment)
	}
	if aws.ToString(out.RevisionId) == aws.ToString(before.RevisionId) || aws.ToString(out.CodeSha256) != aws.ToString(before.CodeSha256) {
		t.Errorf("RevisionId %s (was %s), CodeSha256 %s (was %s)", aws.ToString(out.RevisionId), aws.ToString(before.RevisionId),
			aws.ToString(out.CodeSha256), aws.ToString(before.CodeSha256))
	}
	if got := cpParseLastModified(t, out.LastModified); !got.After(lm) {
		t.Errorf("LastModified = %s, want after %s", got, lm)
	}

	out, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("conf"),
		Environment: &types.Environment{Variables: map[string]string{"CC": "3"}}})
	if err != nil {
		t.Fatalf("update environment: %v", err)
	}
	if got := out.Environment.Variables; !cmp.Equal(got, map[string]string{"CC": "3"}) {
		t.Errorf("Environment.Variables = %v, want the whole map replaced by {CC:3}", got)
	}
	if aws.ToString(out.Description) != "d2" {
		t.Errorf("Description = %q after an environment update", aws.ToString(out.Description))
	}

	current := cpConfig(t, c, "conf")
	rejected := []struct {
		name string
		in   lambda.UpdateFunctionConfigurationInput
		code string
		st   int
	}{
		{"memory 99", lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(99)}, "InvalidParameterValueException", 400},
		{"memory 10241", lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(10241)}, "InvalidParameterValueException", 400},
		{"timeout 0", lambda.UpdateFunctionConfigurationInput{Timeout: aws.Int32(0)}, "InvalidParameterValueException", 400},
		{"timeout 901", lambda.UpdateFunctionConfigurationInput{Timeout: aws.Int32(901), Description: aws.String("x")}, "InvalidParameterValueException", 400},
		{"reserved env", lambda.UpdateFunctionConfigurationInput{Environment: &types.Environment{Variables: map[string]string{"AWS_REGION": "x"}}}, "InvalidParameterValueException", 400},
		{"runtime", lambda.UpdateFunctionConfigurationInput{Runtime: "cobol85"}, "InvalidParameterValueException", 400},
		{"handler", lambda.UpdateFunctionConfigurationInput{Handler: aws.String("nodot")}, "InvalidParameterValueException", 400},
		{"stale revision", lambda.UpdateFunctionConfigurationInput{Description: aws.String("x"), RevisionId: aws.String(cpStaleRevision)}, "PreconditionFailedException", 412},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.FunctionName = aws.String("conf")
			_, err := c.UpdateFunctionConfiguration(ctx, &in)
			cpWantErr(t, err, tt.code, tt.st, "")
			cpSame(t, tt.name, current, cpConfig(t, c, "conf"))
		})
	}

	// The current RevisionId is accepted; an empty map clears the
	// environment.
	out, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("conf"),
		RevisionId: current.RevisionId, Environment: &types.Environment{Variables: map[string]string{}}})
	if err != nil {
		t.Fatalf("update with current RevisionId: %v", err)
	}
	if out.Environment != nil && len(out.Environment.Variables) != 0 {
		t.Errorf("Environment = %v after clearing", out.Environment.Variables)
	}

	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("nope"), Description: aws.String("x")})
	cpWantErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+cpARN+"nope")
}

func TestUpdateThenInvokeRunsNewVersion(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	cpCreate(t, c, "live", cpNodeZip(t, "A"), func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"XV": "1"}}
	})
	check := func(step, wantV, wantX string) {
		t.Helper()
		v, x := cpInvoke(t, c, "live")
		if v != wantV || aws.ToString(x) != wantX {
			t.Errorf("%s: invoke = {v:%s x:%s}, want {v:%s x:%s}", step, v, aws.ToString(x), wantV, wantX)
		}
	}
	check("created", "A", "1")
	check("warm", "A", "1")

	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("live"), ZipFile: cpNodeZip(t, "B")}); err != nil {
		t.Fatal(err)
	}
	check("code updated", "B", "1")

	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("live"),
		Environment: &types.Environment{Variables: map[string]string{"XV": "2"}}}); err != nil {
		t.Fatal(err)
	}
	check("configuration updated", "B", "2")
}

func TestRestartPersistence(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	names := []string{"keep-1", "keep-2"}
	want := map[string]*lambda.CreateFunctionOutput{}
	for i, n := range names {
		want[n] = cpCreate(t, c, n, cpNodeZip(t, string(rune('A'+i))), nil)
	}

	s2 := s.Restart(t)
	c2 := s2.Lambda()
	list, err := c2.ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range list.Functions {
		got = append(got, aws.ToString(f.FunctionName))
		w := want[aws.ToString(f.FunctionName)]
		if w == nil {
			continue
		}
		if aws.ToString(f.CodeSha256) != aws.ToString(w.CodeSha256) || aws.ToString(f.RevisionId) != aws.ToString(w.RevisionId) ||
			aws.ToString(f.LastModified) != aws.ToString(w.LastModified) {
			t.Errorf("%s after restart: sha %s rev %s lm %s; before: %s %s %s", aws.ToString(f.FunctionName),
				aws.ToString(f.CodeSha256), aws.ToString(f.RevisionId), aws.ToString(f.LastModified),
				aws.ToString(w.CodeSha256), aws.ToString(w.RevisionId), aws.ToString(w.LastModified))
		}
	}
	if !slices.Equal(got, names) {
		t.Fatalf("listed after restart: %v, want %v", got, names)
	}
	for i, n := range names {
		if v, _ := cpInvoke(t, c2, n); v != string(rune('A'+i)) {
			t.Errorf("invoke %s after restart = %q, want %q", n, v, string(rune('A'+i)))
		}
	}
}

// TestConcurrentMutations races writers: one RevisionId admits exactly one
// update, and one name admits exactly one create.
func TestConcurrentMutations(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "A")
	const writers = 8

	race := func(op func(i int) error) (ok int, errs []error) {
		results := make(chan error, writers)
		for i := range writers {
			go func() { results <- op(i) }()
		}
		for range writers {
			if err := <-results; err != nil {
				errs = append(errs, err)
			} else {
				ok++
			}
		}
		return ok, errs
	}

	ok, errs := race(func(int) error {
		_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String("contended"), Runtime: types.RuntimeNodejs20x, Handler: aws.String("index.handler"),
			Role: aws.String(cpRole), Code: &types.FunctionCode{ZipFile: zip},
		})
		return err
	})
	if ok != 1 {
		t.Fatalf("%d of %d concurrent creates succeeded, want 1 (errors: %v)", ok, writers, errs)
	}
	for _, err := range errs {
		cpWantErr(t, err, "ResourceConflictException", 409, "Function already exist: contended")
	}

	rev := cpConfig(t, c, "contended").RevisionId
	ok, errs = race(func(i int) error {
		_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String("contended"), RevisionId: rev, Description: aws.String(string(rune('a' + i))),
		})
		return err
	})
	if ok != 1 {
		t.Fatalf("%d of %d updates with one RevisionId succeeded, want 1 (errors: %v)", ok, writers, errs)
	}
	for _, err := range errs {
		cpWantErr(t, err, "PreconditionFailedException", 412, "")
	}
}

// TestSharedCode: functions uploaded with identical zips share stored
// code; updating or deleting one must not take the code from the other.
func TestSharedCode(t *testing.T) {
	s := gusttest.StartServer(t)
	c := s.Lambda()
	ctx := context.Background()
	zip := cpNodeZip(t, "shared")
	cpCreate(t, c, "twin-1", zip, nil)
	cpCreate(t, c, "twin-2", zip, nil)
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("twin-1"), ZipFile: cpNodeZip(t, "B")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("twin-1")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("twin-2")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(aws.ToString(got.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, zip) {
		t.Errorf("twin-2 code download: %d, %d bytes; want the original %d", resp.StatusCode, len(body), len(zip))
	}
	if v, _ := cpInvoke(t, c, "twin-2"); v != "shared" {
		t.Errorf("invoke twin-2 = %q, want shared", v)
	}
}
