package s3events

import (
	"errors"
	"regexp"
	"testing"
	"time"
)

const (
	lacksVersion = "Records.[].s3.object.versionId"
	lacksSize    = "Records.[].s3.object.size"
	lacksETag    = "Records.[].s3.object.eTag"
)

// Each store's payload becomes AWS's exact record: eventName without
// "s3:", the key form-encoded as S3 encodes it, eventVersion 2.1, the
// bucket ARN arn:aws:s3:::<bucket>, an unquoted eTag, a sequencer, the
// time in UTC to the millisecond, and nothing aws-lambda-go's fixture
// does not have.
func TestNormalizeVendorPayloads(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		file       string
		vendor     vendor
		name       string
		key        string // as the function receives it
		decoded    string
		size       int64 // -1: absent
		etag       string
		versionID  string
		sequencer  string // "" : generated
		eventTime  string
		region     string
		principal  string
		requestID  string // "": generated
		mayLack    []string
		ownerPrinc string
	}{
		{file: "versitygw-put.json", vendor: vendorVersityGW, name: "ObjectCreated:Put", key: "a+b%2Bc.txt", decoded: "a b+c.txt",
			size: 11, etag: "5eb63bbbe01eeed093cb22bb8f5acdc3", eventTime: "2025-06-01T10:30:45.000Z", region: "us-east-1",
			principal: "gustadmin", ownerPrinc: "gustadmin", mayLack: []string{lacksVersion}},
		{file: "versitygw-delete-objects.json", vendor: vendorVersityGW, name: "ObjectRemoved:Delete", key: "dir/%C3%BC.json", decoded: "dir/ü.json",
			size: -1, eventTime: "2025-06-01T10:31:00.000Z", region: "us-east-1", principal: "gustadmin",
			mayLack: []string{lacksVersion, lacksSize, lacksETag}},
		{file: "minio-put.json", vendor: vendorMinIO, name: "ObjectCreated:Put", key: "dir/%C3%BC.json", decoded: "dir/ü.json",
			size: 2, etag: "99914b932bd37a50b983c5e7c90ae93b", sequencer: "1842C1A7F2A3B4C5", eventTime: "2025-06-01T10:30:45.123Z",
			region: "us-east-1", principal: "minioadmin", ownerPrinc: "minioadmin", requestID: "1842C1A7F1D9D0A1", mayLack: []string{lacksVersion}},
		{file: "minio-delete.json", vendor: vendorMinIO, name: "ObjectRemoved:Delete", key: "a+b%2Bc.txt", decoded: "a b+c.txt",
			size: -1, sequencer: "1842C1A8B1D2E3F4", eventTime: "2025-06-01T10:31:02.004Z", region: "us-east-1", principal: "minioadmin",
			ownerPrinc: "minioadmin", requestID: "1842C1A8B0C0D0E0", mayLack: []string{lacksVersion, lacksSize, lacksETag}},
		{file: "ceph-put.json", vendor: vendorCeph, name: "ObjectCreated:Put", key: "a+b%2Bc.txt", decoded: "a b+c.txt",
			size: 11, etag: "5eb63bbbe01eeed093cb22bb8f5acdc3", sequencer: "A1B2C3D4E5F60718", eventTime: "2025-06-01T10:30:45.124Z",
			region: "default", principal: "tester", ownerPrinc: "tester", requestID: "4e2a7d3b-0f1c-4d8e-9b6a-3c5d7e9f1a2b.4137.12", mayLack: []string{lacksVersion}},
		{file: "ceph-lifecycle.json", vendor: vendorCeph, name: "LifecycleExpiration:Delete", key: "logs/2025-05-01.txt", decoded: "logs/2025-05-01.txt",
			size: -1, sequencer: "B1B2C3D4E5F60718", eventTime: "2025-06-02T00:00:03.500Z", region: "default", principal: "tester",
			ownerPrinc: "tester", mayLack: []string{lacksVersion, lacksSize, lacksETag}},
		{file: "aws-put.json", vendor: vendorAWS, name: "ObjectCreated:Put", key: "a+b%2Bc.txt", decoded: "a b+c.txt",
			size: 11, etag: "5eb63bbbe01eeed093cb22bb8f5acdc3", versionID: "096fKKXTRTtl3on89fVO.nfljtsv6qko", sequencer: "0055AED6DCD90281E5",
			eventTime: "2025-06-01T10:30:45.250Z", region: "us-east-1", principal: "AWS:AIDAEXAMPLEID", ownerPrinc: "A3NL1KOZZKExample",
			requestID: "C3D13FE58DE4C810"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, skipped, err := f.svc.parseBody(readFixture(t, tc.file))
			if err != nil || skipped != 0 || len(in) != 1 {
				t.Fatalf("parseBody = %d records, %d skipped, %v; want 1 record", len(in), skipped, err)
			}
			got := in[0]
			if got.vendor != tc.vendor || got.bucket != "photos" || got.key != tc.decoded || got.name != tc.name {
				t.Errorf("read as %s: bucket %q key %q name %q; want %s, photos, %q, %q", got.vendor, got.bucket, got.key, got.name, tc.vendor, tc.decoded, tc.name)
			}
			rec := got.rec
			rec.S3.ConfigurationID = "cfg-1"
			payload, err := encodeEvent(rec)
			if err != nil {
				t.Fatal(err)
			}
			ev := checkEvent(t, payload, tc.mayLack...)
			r := ev.Records[0]
			o := r.S3.Object
			checks := []struct{ what, got, want string }{
				{"eventVersion", r.EventVersion, "2.1"},
				{"eventSource", r.EventSource, "aws:s3"},
				{"eventName", r.EventName, tc.name},
				{"awsRegion", r.AWSRegion, tc.region},
				{"userIdentity", r.PrincipalID.PrincipalID, tc.principal},
				{"configurationId", r.S3.ConfigurationID, "cfg-1"},
				{"s3SchemaVersion", r.S3.SchemaVersion, "1.0"},
				{"bucket", r.S3.Bucket.Name, "photos"},
				{"bucket arn", r.S3.Bucket.Arn, "arn:aws:s3:::photos"},
				{"bucket owner", r.S3.Bucket.OwnerIdentity.PrincipalID, tc.ownerPrinc},
				{"key", o.Key, tc.key},
				{"urlDecodedKey", o.URLDecodedKey, tc.decoded},
				{"eTag", o.ETag, tc.etag},
				{"versionId", o.VersionID, tc.versionID},
				{"eventTime", rec.EventTime, tc.eventTime},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			if want := max(tc.size, 0); o.Size != want {
				t.Errorf("size = %d, want %d", o.Size, want)
			}
			if (tc.size < 0) != (rec.S3.Object.Size == nil) {
				t.Errorf("size present = %v, want %v", rec.S3.Object.Size != nil, tc.size >= 0)
			}
			if tc.sequencer != "" && o.Sequencer != tc.sequencer {
				t.Errorf("sequencer = %q, want the sender's %q", o.Sequencer, tc.sequencer)
			}
			if !regexp.MustCompile(`^[0-9A-F]{16,}$`).MatchString(o.Sequencer) {
				t.Errorf("sequencer %q is not 16 or more upper-case hex digits", o.Sequencer)
			}
			if tc.requestID != "" && r.ResponseElements["x-amz-request-id"] != tc.requestID {
				t.Errorf("x-amz-request-id = %q, want %q", r.ResponseElements["x-amz-request-id"], tc.requestID)
			}
			if r.ResponseElements["x-amz-request-id"] == "" || r.ResponseElements["x-amz-id-2"] == "" {
				t.Errorf("responseElements %v lack a request id or host id", r.ResponseElements)
			}
			if _, err := time.Parse(eventTimeLayout, rec.EventTime); err != nil {
				t.Errorf("eventTime %q is not S3's format: %v", rec.EventTime, err)
			}
		})
	}
}

// Sequencers Gust makes increase with every record, so a function can
// order a store's events that came without a usable one.
func TestGeneratedSequencersIncrease(t *testing.T) {
	f := newFixture(t)
	prev := ""
	for range 1000 {
		s := f.svc.sequencerFor("7")
		if len(s) != 16 || s <= prev {
			t.Fatalf("sequencer %q after %q: want 16 hex digits, increasing", s, prev)
		}
		prev = s
	}
}

// Test events (S3's and versitygw's start-up s3:TestEvent) carry no
// records: nothing to deliver, and no error, so the store sees a 2xx.
func TestTestEventHasNoRecords(t *testing.T) {
	f := newFixture(t)
	d, err := f.svc.Deliver(t.Context(), readFixture(t, "test-event.json"))
	if err != nil || d.Notifications != 0 {
		t.Fatalf("Deliver(test event) = %+v, %v; want no notifications and no error", d, err)
	}
	d, err = f.svc.Deliver(t.Context(), []byte(`{"Service":"S3","Event":"s3:TestEvent","Time":"2025-06-01T10:30:00Z","Bucket":"Test-Bucket"}`))
	if err != nil || d.Notifications != 0 {
		t.Fatalf("Deliver(versitygw test event) = %+v, %v; want no notifications and no error", d, err)
	}
}

// A body that is no event is ErrMalformedEvent (a 400: retrying cannot
// help); events S3 has no name for are skipped and counted.
func TestMalformedAndUnsupportedBodies(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{
		`not json`,
		`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":""}}}]}`,
		`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":"big"}}}]}`,
		`{"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`,
		`{"Records":"none"}`,
	} {
		if _, err := f.svc.Deliver(t.Context(), []byte(body)); !errors.Is(err, ErrMalformedEvent) {
			t.Errorf("Deliver(%s) = %v, want ErrMalformedEvent", body, err)
		}
	}
	for i, body := range []string{
		`{"EventName":"s3:ObjectAccessed:Get","Key":"b/k","Records":[{"eventSource":"minio:s3","eventName":"s3:ObjectAccessed:Get","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`,
		`{"EventName":"s3:BucketCreated:*","Key":"b","Records":[{"eventSource":"minio:s3","eventName":"s3:BucketCreated:*","s3":{"bucket":{"name":"b"},"object":{}}}]}`,
	} {
		d, err := f.svc.Deliver(t.Context(), []byte(body))
		if err != nil || d.Notifications != 0 || f.svc.Stats().Unsupported != uint64(i+1) {
			t.Errorf("Deliver(%s) = %+v, %v, stats %+v; want it skipped and counted", body, d, err, f.svc.Stats())
		}
	}
}

func TestEncodeKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"a b+c.txt", "a+b%2Bc.txt"},
		{"dir/ü.json", "dir/%C3%BC.json"},
		{"Happy Face.jpg", "Happy+Face.jpg"},
		{"x=1&y=(2)~:@$,;!'", "x%3D1%26y%3D%282%29%7E%3A%40%24%2C%3B%21%27"},
		{"A-Z_a.z*0/9", "A-Z_a.z*0/9"},
		{"100%.txt", "100%25.txt"},
		{"日本", "%E6%97%A5%E6%9C%AC"},
	} {
		if got := encodeKey(tc.key); got != tc.want {
			t.Errorf("encodeKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
		if got := decodeKey(tc.want); got != tc.key {
			t.Errorf("decodeKey(%q) = %q, want %q", tc.want, got, tc.key)
		}
	}
	// Not valid encoding: taken as it is.
	if got := decodeKey("100%.txt"); got != "100%.txt" {
		t.Errorf("decodeKey(100%%.txt) = %q, want it unchanged", got)
	}
}

// FuzzEncodeKey: decoding undoes encoding for every key.
func FuzzEncodeKey(f *testing.F) {
	for _, s := range []string{"a b+c.txt", "dir/ü.json", "%41", "+", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		enc := encodeKey(key)
		if got := decodeKey(enc); got != key {
			t.Fatalf("decodeKey(encodeKey(%q)) = %q (encoded %q)", key, got, enc)
		}
	})
}

// FuzzParseBody: no body makes the parser panic, and every record it
// accepts becomes an event aws-lambda-go decodes strictly.
func FuzzParseBody(f *testing.F) {
	for _, name := range []string{"versitygw-put.json", "versitygw-delete-objects.json", "minio-put.json",
		"minio-delete.json", "ceph-put.json", "ceph-lifecycle.json", "aws-put.json", "test-event.json"} {
		b, err := readFixtureFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	svc := &Service{opts: Options{Identity: testID}, log: discardLogger()}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, _, err := svc.parseBody(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("parseBody error %v is not ErrMalformedEvent", err)
			}
			return
		}
		for _, ev := range in {
			payload, err := encodeEvent(ev.rec)
			if err != nil {
				t.Fatal(err)
			}
			decodeStrict(t, payload)
		}
	})
}
