package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gust/internal/s3events"
)

// s3WebhookInfo is GET /_gust/v1/s3/webhook's answer, with the full URL.
type s3WebhookInfo struct {
	URL   string         `json:"URL"`
	Path  string         `json:"Path"`
	Stats s3events.Stats `json:"Stats"`
}

func (a *app) s3Command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "s3",
		Short: "Invoke functions on object-store events (S3 bucket notifications)",
		Long: `Have an S3-compatible store (versitygw, MinIO, Ceph RGW) invoke functions
when objects are created or removed, as S3 bucket notifications do. The
store posts its events to Gust's webhook ('gust s3 webhook' prints the
URL); Gust turns each into the exact event S3 sends (aws-lambda-go's
events.S3Event) and invokes the configured functions asynchronously, with
the function's retries and destinations.

As with S3, a function receives a bucket's events only if its resource
policy lets s3.amazonaws.com invoke it:
  aws lambda add-permission --function-name F --statement-id s3-BUCKET \
    --action lambda:InvokeFunction --principal s3.amazonaws.com \
    --source-arn arn:aws:s3:::BUCKET`,
		Example: `  gust s3 webhook
  gust s3 notify photos --function thumbnail --events 's3:ObjectCreated:*' --suffix .jpg --id thumbnails
  gust s3 notification photos
  gust s3 unnotify photos thumbnails`,
		Args: cobra.ArbitraryArgs,
		RunE: subcommandRequired,
	}
	cmd.AddCommand(a.s3WebhookCommand(), a.s3NotifyCommand(), a.s3NotificationCommand(), a.s3UnnotifyCommand())
	return cmd
}

func (a *app) s3WebhookCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "webhook [--json]",
		Short: "Print the webhook URL to give the object store",
		Long: `Print the URL an object store posts its bucket events to:
<endpoint>/_gust/s3/events/<token>. The token is the store's credential:
it is the same on every node sharing the server's NATS and across
restarts. The URL uses the endpoint this command talks to; a store that
reaches Gust by another address (another host, a container) needs that
address with the same path.

With --json the answer holds the URL, the path and this node's delivery
counters since it started.`,
		Example: `  gust s3 webhook
  versitygw --event-webhook-url "$(gust s3 webhook)" posix /srv/s3
  mc admin config set myminio notify_webhook:gust endpoint="$(gust s3 webhook)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			var out s3WebhookInfo
			if err := s.GustClient().send(cmd.Context(), http.MethodGet, "/_gust/v1/s3/webhook", nil, &out); err != nil {
				return fmt.Errorf("s3 webhook: %w", err)
			}
			out.URL = strings.TrimSuffix(s.Endpoint, "/") + out.Path
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			fmt.Fprintln(a.stdout, out.URL)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the URL, the path and this node's delivery counters as JSON")
	return cmd
}

// s3NotifyFlags are the options of `gust s3 notify`.
type s3NotifyFlags struct {
	function       string
	events         []string
	prefix, suffix string
	id             string
	asJSON         bool
}

func (a *app) s3NotifyCommand() *cobra.Command {
	var f s3NotifyFlags
	cmd := &cobra.Command{
		Use:   "notify BUCKET --function F [--events E,…] [--prefix P] [--suffix S] [--id ID]",
		Short: "Send a bucket's events to a function",
		Long: `Add a LambdaFunctionConfiguration to BUCKET's notification configuration,
or replace the one with the same --id, and print its id. The function F
is a name, name:qualifier or ARN. --events takes S3's event types
(default s3:ObjectCreated:*), comma-separated or repeated:
  s3:ObjectCreated:*  :Put :Post :Copy :CompleteMultipartUpload
  s3:ObjectRemoved:*  :Delete :DeleteMarkerCreated
  s3:ObjectRestore:*, s3:ObjectTagging:*, s3:ObjectAcl:Put, s3:LifecycleExpiration:*, …
--prefix and --suffix limit it to keys that start or end so; as with S3,
write special characters URL-encoded ("my+dir/" is keys under "my dir/").

S3's rules apply: the function's resource policy must let
s3.amazonaws.com invoke it (the error says which aws command grants it),
and two configurations of a bucket may not share an event type for keys
both their filters match.`,
		Example: `  gust s3 notify photos --function thumbnail --suffix .jpg --id thumbnails
  gust s3 notify uploads --function arn:aws:lambda:us-east-1:000000000000:function:index:live \
    --events 's3:ObjectCreated:*,s3:ObjectRemoved:Delete' --prefix incoming/`,
		Args: exactArgs(1, "a bucket name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.s3Notify(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.function, "function", "", "function name, name:qualifier or ARN (required)")
	fl.StringSliceVar(&f.events, "events", []string{"s3:ObjectCreated:*"}, "S3 event types")
	fl.StringVar(&f.prefix, "prefix", "", "only keys starting with this (URL-encoded)")
	fl.StringVar(&f.suffix, "suffix", "", "only keys ending with this (URL-encoded)")
	fl.StringVar(&f.id, "id", "", "configuration id; an existing one is replaced (default: a new random id)")
	fl.BoolVar(&f.asJSON, "json", false, "print the bucket's whole stored configuration as JSON")
	return cmd
}

func (a *app) s3Notify(cmd *cobra.Command, bucket string, f s3NotifyFlags) error {
	if f.function == "" {
		return usageError{cmd: cmd, err: errors.New("--function is required: the function to invoke")}
	}
	s, err := a.settings()
	if err != nil {
		return err
	}
	c := s.GustClient()
	cfg, err := getNotification(cmd.Context(), c, bucket)
	if err != nil {
		return err
	}
	n := s3events.LambdaFunctionConfiguration{ID: f.id, LambdaFunctionArn: functionARN(s, f.function), Events: f.events}
	var rules []s3events.FilterRule
	if f.prefix != "" {
		rules = append(rules, s3events.FilterRule{Name: "Prefix", Value: f.prefix})
	}
	if f.suffix != "" {
		rules = append(rules, s3events.FilterRule{Name: "Suffix", Value: f.suffix})
	}
	if len(rules) > 0 {
		n.Filter = &s3events.Filter{Key: &s3events.KeyFilter{FilterRules: rules}}
	}
	cs := cfg.LambdaFunctionConfigurations
	if i := slices.IndexFunc(cs, func(c s3events.LambdaFunctionConfiguration) bool { return f.id != "" && c.ID == f.id }); i >= 0 {
		cs[i] = n
	} else {
		cs = append(cs, n)
	}
	stored, err := putNotification(cmd.Context(), c, bucket, s3events.NotificationConfiguration{LambdaFunctionConfigurations: cs})
	if err != nil {
		var apiErr *GustAPIError
		if errors.As(err, &apiErr) && strings.HasPrefix(apiErr.Message, "Unable to validate") {
			fmt.Fprintf(a.stderr, "gust: %s\nThe function's resource policy must let S3 invoke it:\n", describeError(err))
			fmt.Fprintf(a.stderr, "  aws lambda add-permission --function-name %s --statement-id s3-%s --action lambda:InvokeFunction --principal s3.amazonaws.com --source-arn arn:aws:s3:::%s --source-account %s\n",
				n.LambdaFunctionArn, bucket, bucket, s.AccountID)
			if len(cs) > 1 {
				fmt.Fprintf(a.stderr, "(every configuration of the bucket is checked: see 'gust s3 notification %s')\n", bucket)
			}
			return exitError{code: 1}
		}
		return err
	}
	if f.asJSON {
		return writeIndentedJSON(a.stdout, stored)
	}
	// Without --id the new configuration was appended: it is the last.
	id := f.id
	if id == "" && len(stored.LambdaFunctionConfigurations) > 0 {
		id = stored.LambdaFunctionConfigurations[len(stored.LambdaFunctionConfigurations)-1].ID
	}
	fmt.Fprintln(a.stdout, id)
	fmt.Fprintf(a.stderr, "bucket %s: %s gets %s%s\n", bucket, n.LambdaFunctionArn, strings.Join(f.events, ", "), keysDescription(f.prefix, f.suffix))
	return nil
}

// keysDescription says which keys a filter admits, for messages.
func keysDescription(prefix, suffix string) string {
	if prefix == "" && suffix == "" {
		return ""
	}
	return fmt.Sprintf(" for keys %s…%s", prefix, suffix)
}

// functionARN turns a function name (or name:qualifier) into the full
// ARN S3 configurations name; an ARN is kept as it is.
func functionARN(s Settings, function string) string {
	if strings.HasPrefix(function, "arn:") {
		return function
	}
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.Region, s.AccountID, function)
}

func getNotification(ctx context.Context, c *GustClient, bucket string) (*s3events.NotificationConfiguration, error) {
	var cfg s3events.NotificationConfiguration
	if err := c.send(ctx, http.MethodGet, notificationPath(bucket), nil, &cfg); err != nil {
		return nil, fmt.Errorf("notification of %s: %w", bucket, err)
	}
	return &cfg, nil
}

func putNotification(ctx context.Context, c *GustClient, bucket string, cfg s3events.NotificationConfiguration) (*s3events.NotificationConfiguration, error) {
	body, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("notification of %s: %w", bucket, err)
	}
	var out s3events.NotificationConfiguration
	if err := c.send(ctx, http.MethodPut, notificationPath(bucket), body, &out); err != nil {
		return nil, fmt.Errorf("put notification of %s: %w", bucket, err)
	}
	return &out, nil
}

func notificationPath(bucket string) string {
	return "/_gust/v1/s3/buckets/" + url.PathEscape(bucket) + "/notification"
}

func (a *app) s3NotificationCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "notification BUCKET [--json]",
		Short: "Show a bucket's notification configuration",
		Long: `List BUCKET's LambdaFunctionConfigurations, one per line: id, function,
event types, prefix and suffix. With --json the configuration is printed
in S3's shape, as 'aws s3api get-bucket-notification-configuration'
prints one: {"LambdaFunctionConfigurations":[…]}.`,
		Example: `  gust s3 notification photos
  gust s3 notification photos --json`,
		Args: exactArgs(1, "a bucket name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			cfg, err := getNotification(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, cfg)
			}
			if len(cfg.LambdaFunctionConfigurations) == 0 {
				fmt.Fprintf(a.stderr, "bucket %s sends no events to functions\n", args[0])
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFUNCTION\tEVENTS\tPREFIX\tSUFFIX")
			for _, c := range cfg.LambdaFunctionConfigurations {
				prefix, suffix := filterValues(c.Filter)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.LambdaFunctionArn, strings.Join(c.Events, ","), orDash(prefix), orDash(suffix))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the configuration as JSON, in S3's shape")
	return cmd
}

// filterValues returns a filter's prefix and suffix values.
func filterValues(f *s3events.Filter) (prefix, suffix string) {
	if f == nil || f.Key == nil {
		return "", ""
	}
	for _, r := range f.Key.FilterRules {
		if strings.EqualFold(r.Name, "prefix") {
			prefix = r.Value
		} else {
			suffix = r.Value
		}
	}
	return prefix, suffix
}

func (a *app) s3UnnotifyCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "unnotify BUCKET (ID… | --all)",
		Short: "Stop sending a bucket's events to functions",
		Long: `Remove the LambdaFunctionConfigurations with the given ids from BUCKET's
notification configuration, or all of them with --all. An id the bucket
does not have is an error, and nothing is removed.`,
		Example: `  gust s3 unnotify photos thumbnails
  gust s3 unnotify photos --all`,
		Args: minArgs(1, "a bucket name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			bucket, ids := args[0], args[1:]
			if all == (len(ids) > 0) {
				return usageError{cmd: cmd, err: errors.New("give configuration ids or --all")}
			}
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			cfg, err := getNotification(cmd.Context(), c, bucket)
			if err != nil {
				return err
			}
			var keep []s3events.LambdaFunctionConfiguration
			if !all {
				for _, id := range ids {
					if !slices.ContainsFunc(cfg.LambdaFunctionConfigurations, func(c s3events.LambdaFunctionConfiguration) bool { return c.ID == id }) {
						return fmt.Errorf("bucket %s has no configuration %q", bucket, id)
					}
				}
				for _, c := range cfg.LambdaFunctionConfigurations {
					if !slices.Contains(ids, c.ID) {
						keep = append(keep, c)
					}
				}
			}
			if _, err := putNotification(cmd.Context(), c, bucket, s3events.NotificationConfiguration{LambdaFunctionConfigurations: keep}); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "bucket %s: %d configuration(s) removed\n", bucket, len(cfg.LambdaFunctionConfigurations)-len(keep))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every configuration of the bucket")
	return cmd
}
