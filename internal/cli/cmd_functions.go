package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/spf13/cobra"
)

func (a *app) lsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List functions",
		Long: `List every function ($LATEST) with its runtime, memory, timeout and the
time it was last changed, one per line.`,
		Example: `  gust ls
  gust ls --data /var/lib/gust`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tRUNTIME\tMEMORY\tTIMEOUT\tLAST MODIFIED")
			n := 0
			p := lambda.NewListFunctionsPaginator(s.LambdaClient(), &lambda.ListFunctionsInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return fmt.Errorf("list functions: %w", err)
				}
				for _, f := range page.Functions {
					n++
					fmt.Fprintf(tw, "%s\t%s\t%d MB\t%d s\t%s\n", aws.ToString(f.FunctionName), f.Runtime,
						aws.ToInt32(f.MemorySize), aws.ToInt32(f.Timeout), aws.ToString(f.LastModified))
				}
			}
			if n == 0 {
				fmt.Fprintln(a.stderr, "no functions yet; create one with `gust deploy`")
				return nil
			}
			return tw.Flush()
		},
	}
}

func (a *app) rmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME [NAME...]",
		Aliases: []string{"delete"},
		Short:   "Delete functions",
		Long: `Delete functions with all their versions and aliases (DeleteFunction).
Every name is tried; gust exits 1 if any of them could not be deleted.`,
		Example: `  gust rm hello
  gust rm hello world`,
		Args: minArgs(1, "at least one function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			lc := s.LambdaClient()
			var errs []error
			for _, name := range args {
				if _, err := lc.DeleteFunction(cmd.Context(), &lambda.DeleteFunctionInput{FunctionName: &name}); err != nil {
					if len(args) == 1 {
						return fmt.Errorf("delete %s: %w", name, err)
					}
					fmt.Fprintf(a.stderr, "gust: delete %s: %s\n", name, describeError(err))
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(a.stdout, "deleted %s\n", name)
			}
			if len(errs) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
}
