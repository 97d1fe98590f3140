package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"gust/internal/codecache"
	"gust/internal/lambda"
	"gust/internal/store"
)

type createFunctionInput struct {
	functionInput
	FunctionName  string            `json:"FunctionName"`
	Code          *codeInput        `json:"Code"`
	Publish       bool              `json:"Publish"`
	PackageType   string            `json:"PackageType"`
	Architectures []string          `json:"Architectures"`
	Tags          map[string]string `json:"Tags"`
}

type codeInput struct {
	ZipFile  []byte `json:"ZipFile"` // base64 in JSON; encoding/json decodes it
	S3Bucket string `json:"S3Bucket"`
	S3Key    string `json:"S3Key"`
	ImageUri string `json:"ImageUri"`
}

// zip returns the deployment package or the error Lambda gives when the
// request names a source Gust cannot read.
func (c *codeInput) zip() ([]byte, error) {
	switch {
	case c == nil:
		return nil, lambda.KindInvalidParameterValue.Errorf("Code is required: provide Code.ZipFile")
	case c.ImageUri != "":
		return nil, lambda.KindInvalidParameterValue.Errorf("Gust runs zip packages only; container images (ImageUri) are not supported")
	case c.S3Bucket != "" || c.S3Key != "":
		return nil, lambda.KindInvalidParameterValue.Errorf("Gust cannot read code from S3 (%s/%s); upload the zip with ZipFile (--zip-file fileb://…)", c.S3Bucket, c.S3Key)
	case len(c.ZipFile) == 0:
		return nil, lambda.KindInvalidParameterValue.Errorf("Code.ZipFile is empty")
	}
	return c.ZipFile, nil
}

func (a *API) createFunction(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in createFunctionInput
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if err := in.validateUnsupported(); err != nil {
		return err
	}
	if in.Role == nil || *in.Role == "" {
		return lambda.KindInvalidParameterValue.Errorf("1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null")
	}
	fn := &lambda.Function{
		Name:          in.FunctionName,
		PackageType:   in.PackageType,
		Architectures: in.Architectures,
		Tags:          in.Tags,
	}
	// Defaults first: a member given explicitly (Timeout 0) must be
	// validated, not replaced by its default.
	fn.ApplyDefaults()
	in.apply(fn)
	if err := fn.Validate(); err != nil {
		return err
	}
	if err := validateTags(in.Tags); err != nil {
		return err
	}
	if err := a.checkRole(r.Context(), fn.Role); err != nil {
		return err
	}
	zip, err := in.Code.zip()
	if err != nil {
		return err
	}
	info, err := codecache.Inspect(zip)
	if err != nil {
		return err
	}
	fn.CodeSha256, fn.CodeSize, fn.CodeUnzipped = info.Sha256, info.Size, info.Unzipped
	fn.LastModified = time.Now()
	fn.RevisionID = uuid.NewString()

	ctx := r.Context()
	if err := a.opts.Store.PutCode(ctx, info.Sha256, zip); err != nil {
		return err
	}
	if err := a.opts.Store.CreateFunction(ctx, fn); err != nil {
		if errors.Is(err, store.ErrExists) {
			return lambda.FunctionExists(fn.Name)
		}
		return err
	}
	if in.Publish {
		if fn, err = a.publish(ctx, fn.Name, publishVersionInput{}); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusCreated, a.configuration(fn, true))
}
