package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gust/internal/iam"
)

func (a *app) iamCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "iam",
		Short: "Manage IAM users, their access keys, and roles",
		Long: `Manage the principals that may sign requests to Gust: IAM users, each with
one access key pair and at most one inline identity policy, and roles,
whose policy says what a function running with that role may do.

Only the account root (the admin key pair that 'gust env' prints) may
manage them. Policies are IAM policy documents (JSON, Version 2012-10-17);
a user's policy takes effect when Gust enforces authorization.

The role lambda-role always exists (it is created again at start if
deleted): a function with it may only write its own logs.`,
		Example: `  gust iam user create alice
  gust iam user policy alice policy.json
  gust iam key rotate alice
  gust iam role create worker --policy worker.json
  gust iam role ls`,
		Args: cobra.ArbitraryArgs,
		RunE: subcommandRequired,
	}
	user := &cobra.Command{
		Use:   "user",
		Short: "Create, list, show and remove IAM users and set their policy",
		Long: `Create, list, show and remove IAM users, and set a user's inline policy.
User names are 1 to 64 characters of letters, digits and _+=,.@- and are
unique regardless of case.`,
		Example: `  gust iam user create alice
  gust iam user ls
  gust iam user rm alice`,
		Args: cobra.ArbitraryArgs,
		RunE: subcommandRequired,
	}
	user.AddCommand(a.iamUserCreateCommand(), a.iamUserLsCommand(), a.iamUserShowCommand(), a.iamUserRmCommand(), a.iamUserPolicyCommand())
	key := &cobra.Command{
		Use:     "key",
		Short:   "Rotate a user's access key",
		Long:    `Work with IAM users' access keys.`,
		Example: `  gust iam key rotate alice`,
		Args:    cobra.ArbitraryArgs,
		RunE:    subcommandRequired,
	}
	key.AddCommand(a.iamKeyRotateCommand())
	role := &cobra.Command{
		Use:   "role",
		Short: "Create, list, show and remove roles and set their policy",
		Long: `Create, list, show and remove IAM roles, and set a role's inline policy.
A function's Role names one of them (arn:aws:iam::ACCOUNT:role/NAME).`,
		Example: `  gust iam role create worker --policy worker.json
  gust iam role ls
  gust iam role rm worker`,
		Args: cobra.ArbitraryArgs,
		RunE: subcommandRequired,
	}
	role.AddCommand(a.iamRoleCreateCommand(), a.iamRoleLsCommand(), a.iamRoleShowCommand(), a.iamRoleRmCommand(), a.iamRolePolicyCommand())
	cmd.AddCommand(user, key, role)
	return cmd
}

func (a *app) iamUserCreateCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create NAME [--json]",
		Short: "Create a user and print its access key pair",
		Long: `Create an IAM user with one access key pair and print the pair as shell
export lines on stdout (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), so
that eval "$(gust iam user create NAME)" makes the current shell sign as
the new user. The user's ARN goes to stderr.

The secret access key is shown only this once; 'gust iam key rotate'
issues a new pair if it is lost. With --json the server's answer is
printed instead: {"User":{…},"AccessKey":{"AccessKeyId","SecretAccessKey"}}.`,
		Example: `  gust iam user create alice
  eval "$(gust iam user create ci-bot)"
  gust iam user create alice --json`,
		Args: exactArgs(1, "a user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			var out struct {
				User      iam.User
				AccessKey iam.AccessKey
			}
			body, _ := json.Marshal(map[string]string{"UserName": args[0]})
			if err := c.send(cmd.Context(), http.MethodPost, "/_gust/v1/iam/users", body, &out); err != nil {
				return fmt.Errorf("create user %s: %w", args[0], err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			fmt.Fprintf(a.stderr, "created user %s (%s); its secret access key is shown only now\n", out.User.Name, out.User.ARN)
			writeKeyExports(a.stdout, out.AccessKey)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// writeKeyExports prints a key pair as shell exports.
func writeKeyExports(w io.Writer, key iam.AccessKey) {
	writeExports(w, []envVar{{"AWS_ACCESS_KEY_ID", key.ID}, {"AWS_SECRET_ACCESS_KEY", key.Secret}})
}

func (a *app) iamUserLsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json]",
		Aliases: []string{"list"},
		Short:   "List users",
		Long: `List IAM users, one per line: name, access key id, whether it has a
policy, creation time and ARN. With --json the server's answer is printed:
{"Users":[…]}.`,
		Example: `  gust iam user ls
  gust iam user ls --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			var out struct{ Users []iam.User }
			if err := c.send(cmd.Context(), http.MethodGet, "/_gust/v1/iam/users", nil, &out); err != nil {
				return fmt.Errorf("list users: %w", err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			if len(out.Users) == 0 {
				fmt.Fprintln(a.stderr, "no users")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tACCESS KEY\tPOLICY\tCREATED\tARN")
			for _, u := range out.Users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, orDash(strings.Join(u.AccessKeys, ",")), yesNo(u.Policy != ""), u.Created.UTC().Format(time.RFC3339), u.ARN)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func (a *app) iamUserShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME [--json]",
		Short: "Print a user and its policy",
		Long: `Print a user's name, id, ARN, access key id and creation time, then its
inline policy document, if it has one. With --json the server's answer is
printed: {"User":{…}}.`,
		Example: `  gust iam user show alice`,
		Args:    exactArgs(1, "a user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			var out struct{ User iam.User }
			if err := c.send(cmd.Context(), http.MethodGet, "/_gust/v1/iam/users/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return fmt.Errorf("user %s: %w", args[0], err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			u := out.User
			return a.printPrincipal([][2]string{
				{"user", u.Name}, {"id", u.ID}, {"arn", u.ARN},
				{"access key", orDash(strings.Join(u.AccessKeys, ","))},
				{"created", u.Created.UTC().Format(time.RFC3339)},
			}, u.Policy)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

// printPrincipal prints "key: value" lines, then the policy document
// indented, or "policy: -".
func (a *app) printPrincipal(lines [][2]string, doc string) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "%s:\t%s\n", l[0], l[1])
	}
	if doc == "" {
		fmt.Fprintln(tw, "policy:\t-")
		return tw.Flush()
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(doc), "", "  ") == nil {
		doc = pretty.String()
	}
	_, err := fmt.Fprintf(a.stdout, "policy:\n%s\n", doc)
	return err
}

func (a *app) iamUserRmCommand() *cobra.Command {
	return a.iamRmCommand("user", "/_gust/v1/iam/users/", "Its access key stops working at once, on every Gust node.")
}

func (a *app) iamRoleRmCommand() *cobra.Command {
	return a.iamRmCommand("role", "/_gust/v1/iam/roles/", "Credentials functions hold for it stop working at once;\nfunctions naming it keep their configuration.")
}

// iamRmCommand deletes a user or role; effect says what that does.
func (a *app) iamRmCommand(kind, base, effect string) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a " + kind,
		Long:    "Delete an IAM " + kind + ". " + effect,
		Example: "  gust iam " + kind + " rm NAME",
		Args:    exactArgs(1, "a "+kind+" name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			if err := c.send(cmd.Context(), http.MethodDelete, base+url.PathEscape(args[0]), nil, nil); err != nil {
				return fmt.Errorf("delete %s %s: %w", kind, args[0], err)
			}
			fmt.Fprintf(a.stderr, "deleted %s %s\n", kind, args[0])
			return nil
		},
	}
}

func (a *app) iamUserPolicyCommand() *cobra.Command {
	return a.iamPolicyCommand("user", "/_gust/v1/iam/users/")
}

func (a *app) iamRolePolicyCommand() *cobra.Command {
	return a.iamPolicyCommand("role", "/_gust/v1/iam/roles/")
}

// iamPolicyCommand sets or removes the inline policy of a user or role.
func (a *app) iamPolicyCommand(kind, base string) *cobra.Command {
	var remove bool
	cmd := &cobra.Command{
		Use:   "policy NAME FILE | policy NAME --remove",
		Short: "Set or remove a " + kind + "'s inline policy",
		Long: `Set the ` + kind + `'s inline identity policy to the IAM policy document in
FILE ('-' reads stdin), replacing the one it had; --remove removes it.
The server checks the document and refuses one it cannot enforce exactly
(InvalidParameterValueException, naming the problem).`,
		Example: `  gust iam ` + kind + ` policy NAME policy.json
  cat policy.json | gust iam ` + kind + ` policy NAME -
  gust iam ` + kind + ` policy NAME --remove`,
		Args: func(cmd *cobra.Command, args []string) error {
			if remove {
				return exactArgs(1, "a "+kind+" name with --remove")(cmd, args)
			}
			return exactArgs(2, "a "+kind+" name and a policy file (or --remove)")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var doc []byte
			if !remove {
				var err error
				if doc, err = a.readPolicyFile(args[1]); err != nil {
					return err
				}
			}
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			method := http.MethodPut
			if remove {
				method = http.MethodDelete
			}
			if err := c.send(cmd.Context(), method, base+url.PathEscape(args[0])+"/policy", doc, nil); err != nil {
				return fmt.Errorf("%s %s policy: %w", kind, args[0], err)
			}
			if remove {
				fmt.Fprintf(a.stderr, "removed the policy of %s %s\n", kind, args[0])
			} else {
				fmt.Fprintf(a.stderr, "set the policy of %s %s\n", kind, args[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the "+kind+"'s policy")
	return cmd
}

// maxPolicyFile bounds a policy file read; the server allows 10 KB.
const maxPolicyFile = 1 << 20

// readPolicyFile reads a policy document from path, or stdin for "-".
func (a *app) readPolicyFile(path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = a.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyFile))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("policy: %s is empty; use --remove to remove a policy", path)
	}
	return b, nil
}

func (a *app) iamKeyRotateCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate USER [--json]",
		Short: "Replace a user's access key pair",
		Long: `Issue a new access key pair for the user and delete the old one, which
stops working at once. The new pair is printed as shell export lines, as
'gust iam user create' prints it, and shown only this once. With --json
the server's answer is printed: {"AccessKey":{"AccessKeyId",
"SecretAccessKey"}}.`,
		Example: `  gust iam key rotate alice
  eval "$(gust iam key rotate ci-bot)"`,
		Args: exactArgs(1, "a user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			var out struct{ AccessKey iam.AccessKey }
			if err := c.send(cmd.Context(), http.MethodPost, "/_gust/v1/iam/users/"+url.PathEscape(args[0])+"/rotate-key", nil, &out); err != nil {
				return fmt.Errorf("rotate the key of %s: %w", args[0], err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			fmt.Fprintf(a.stderr, "issued a new key for %s; the old one no longer works\n", args[0])
			writeKeyExports(a.stdout, out.AccessKey)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func (a *app) iamRoleCreateCommand() *cobra.Command {
	var (
		policyFile string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--policy FILE] [--json]",
		Short: "Create a role",
		Long: `Create an IAM role, with the IAM policy document in --policy FILE ('-'
reads stdin) as its inline policy, or none. Prints the role's ARN, which a
function's Role names. With --json the server's answer is printed:
{"Role":{…}}.`,
		Example: `  gust iam role create worker --policy worker.json
  gust iam role create empty`,
		Args: exactArgs(1, "a role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := map[string]any{"RoleName": args[0]}
			if policyFile != "" {
				doc, err := a.readPolicyFile(policyFile)
				if err != nil {
					return err
				}
				in["PolicyDocument"] = string(doc)
			}
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			body, _ := json.Marshal(in)
			var out struct{ Role iam.Role }
			if err := c.send(cmd.Context(), http.MethodPost, "/_gust/v1/iam/roles", body, &out); err != nil {
				return fmt.Errorf("create role %s: %w", args[0], err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			fmt.Fprintln(a.stdout, out.Role.ARN)
			return nil
		},
	}
	cmd.Flags().StringVar(&policyFile, "policy", "", "file holding the role's policy document ('-' = stdin)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func (a *app) iamRoleLsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json]",
		Aliases: []string{"list"},
		Short:   "List roles",
		Long: `List IAM roles, one per line: name, whether it has a policy, creation
time and ARN. With --json the server's answer is printed: {"Roles":[…]}.`,
		Example: `  gust iam role ls`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			var out struct{ Roles []iam.Role }
			if err := c.send(cmd.Context(), http.MethodGet, "/_gust/v1/iam/roles", nil, &out); err != nil {
				return fmt.Errorf("list roles: %w", err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROLE\tPOLICY\tCREATED\tARN")
			for _, r := range out.Roles {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, yesNo(r.Policy != ""), r.Created.UTC().Format(time.RFC3339), r.ARN)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func (a *app) iamRoleShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME [--json]",
		Short: "Print a role and its policy",
		Long: `Print a role's name, id, ARN and creation time, then its inline policy
document, if it has one. With --json the server's answer is printed:
{"Role":{…}}.`,
		Example: `  gust iam role show lambda-role`,
		Args:    exactArgs(1, "a role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.gustClient()
			if err != nil {
				return err
			}
			var out struct{ Role iam.Role }
			if err := c.send(cmd.Context(), http.MethodGet, "/_gust/v1/iam/roles/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return fmt.Errorf("role %s: %w", args[0], err)
			}
			if asJSON {
				return writeIndentedJSON(a.stdout, out)
			}
			r := out.Role
			return a.printPrincipal([][2]string{
				{"role", r.Name}, {"id", r.ID}, {"arn", r.ARN}, {"created", r.Created.UTC().Format(time.RFC3339)},
			}, r.Policy)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func (a *app) gustClient() (*GustClient, error) {
	s, err := a.settings()
	if err != nil {
		return nil, err
	}
	return s.GustClient(), nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
