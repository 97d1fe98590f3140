package s3events

import (
	"context"
	"errors"
	"fmt"

	"gust/internal/iam/policy"
	"gust/internal/lambda"
	"gust/internal/store"
)

// S3 invokes a function as the service principal s3.amazonaws.com, with
// the bucket's ARN as aws:SourceArn: the function's resource-based policy
// must allow that (aws lambda add-permission --principal s3.amazonaws.com
// --source-arn arn:aws:s3:::BUCKET). S3 checks when a configuration is
// saved; Gust checks again at every delivery, since the policy may change
// in between.
const (
	s3Principal  = "s3.amazonaws.com"
	invokeAction = "lambda:InvokeFunction"
)

// mayInvoke reports whether the resource policy governing arn lets
// s3.amazonaws.com invoke it for events of bucket. A function or
// qualifier without a policy (or that does not exist) may not be
// invoked; only a failure to read the policy is an error.
func (s *Service) mayInvoke(ctx context.Context, bucket, arn string) (bool, error) {
	ref, err := s.functionOf(arn)
	if err != nil {
		return false, nil
	}
	doc, _, err := s.opts.Policies.GetPolicy(ctx, ref.Name, ref.Qualifier)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, lambda.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read policy of %s: %w", arn, err)
	}
	if doc == nil {
		return false, nil
	}
	resource := s.opts.Identity.QualifiedARN(ref.Name, ref.Qualifier)
	if ref.Qualifier == lambda.LatestVersion {
		resource = s.opts.Identity.FunctionARN(ref.Name)
	}
	req := policy.Request{
		Service:  s3Principal,
		Action:   invokeAction,
		Resource: resource,
		Context: map[string]string{
			"aws:SourceArn":     bucketARN(bucket),
			"aws:SourceAccount": s.opts.Identity.Account,
		},
	}
	return policy.Evaluate(req, nil, doc) == policy.Allow, nil
}

// validateDestinations refuses, with S3's words, configurations naming a
// function s3.amazonaws.com may not invoke for bucket.
func (s *Service) validateDestinations(ctx context.Context, bucket string, cs []LambdaFunctionConfiguration) error {
	var refused []string
	for _, c := range cs {
		ok, err := s.mayInvoke(ctx, bucket, c.LambdaFunctionArn)
		if err != nil {
			return fmt.Errorf("validate destinations of %s: %w", bucket, err)
		}
		if !ok {
			refused = append(refused, c.LambdaFunctionArn)
		}
	}
	if len(refused) > 0 {
		s.log.Info("bucket notification refused: functions do not allow s3.amazonaws.com",
			"bucket", bucket, "functions", refused)
		return KindInvalidArgument.Errorf(unableToValidate)
	}
	return nil
}
