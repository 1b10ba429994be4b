package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"omnihub/auth"
	"omnihub/errs"
	"omnihub/internal/app"
)

// withAuth opens the app (migrating first, so the first admin can be
// created on a fresh database) and runs fn as the CLI actor.
func (c *cli) withAuth(cmd *cobra.Command, fn func(ctx context.Context, s *auth.Service) error) error {
	a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(auth.WithActor(cmd.Context(), cliActor()), a.Auth)
}

// cliActor names the operating-system user in the audit log.
func cliActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return "cli:" + name
}

func (c *cli) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (accounts for the console and API tokens)"}
	var role string
	var pwStdin bool
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a user; prints a generated password unless --password-stdin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			pw := ""
			if pwStdin {
				if pw, err = readSecretLine(cmd); err != nil {
					return err
				}
			}
			return c.withAuth(cmd, func(ctx context.Context, s *auth.Service) error {
				u, generated, err := s.CreateUser(ctx, args[0], r, pw)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created user %s (role %s, id %s)\n", u.Name, u.Role, u.ID)
				if generated != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n", generated)
					fmt.Fprintln(cmd.ErrOrStderr(), "store this password now; it is not shown again")
				}
				return nil
			})
		},
	}
	add.Flags().StringVar(&role, "role", "", "admin, operator, warehouse, finance or auditor")
	_ = add.MarkFlagRequired("role")
	add.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")

	var setRole string
	var disable, enable, setPW bool
	set := &cobra.Command{
		Use:   "set NAME",
		Short: "Change a user's role, disable or enable it, or set its password (--password-stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ch auth.UserChange
			if setRole != "" {
				r, err := auth.ParseRole(setRole)
				if err != nil {
					return err
				}
				ch.Role = &r
			}
			if disable && enable {
				return errs.E(errs.Invalid, "--disable and --enable exclude each other")
			}
			if disable || enable {
				ch.Disabled = &disable
			}
			if setPW {
				pw, err := readSecretLine(cmd)
				if err != nil {
					return err
				}
				ch.Password = &pw
			}
			if ch == (auth.UserChange{}) {
				return errs.E(errs.Invalid, "nothing to change: give --role, --disable, --enable or --password-stdin")
			}
			return c.withAuth(cmd, func(ctx context.Context, s *auth.Service) error {
				u, err := s.UpdateUser(ctx, args[0], ch)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s: role %s, disabled %v\n", u.Name, u.Role, u.Disabled)
				return nil
			})
		},
	}
	set.Flags().StringVar(&setRole, "role", "", "new role")
	set.Flags().BoolVar(&disable, "disable", false, "disable the user (ends its sessions; its tokens stop working)")
	set.Flags().BoolVar(&enable, "enable", false, "enable the user again")
	set.Flags().BoolVar(&setPW, "password-stdin", false, "set the password read from standard input")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAuth(cmd, func(ctx context.Context, s *auth.Service) error {
				us, err := s.ListUsers(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tDISABLED\tCREATED")
				for _, u := range us {
					fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", u.Name, u.Role, u.Disabled, u.CreatedAt.Format(time.DateTime))
				}
				return tw.Flush()
			})
		},
	}
	cmd.AddCommand(add, set, list)
	return cmd
}

func (c *cli) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var userName, name, expires string
	var scopes []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Issue an API token for a user; prints the token once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ttl, err := parseExpiry(expires)
			if err != nil {
				return err
			}
			return c.withAuth(cmd, func(ctx context.Context, s *auth.Service) error {
				t, secret, err := s.CreateToken(ctx, userName, name, scopes, ttl)
				if err != nil {
					return err
				}
				exp := "never"
				if t.ExpiresAt != nil {
					exp = t.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintln(cmd.OutOrStdout(), secret)
				fmt.Fprintf(cmd.ErrOrStderr(), "token %s for %s, scopes %s, expires %s; store it now, it is not shown again\n",
					t.Prefix, t.User, strings.Join(t.Scopes, " "), exp)
				return nil
			})
		},
	}
	create.Flags().StringVar(&userName, "user", "", "the token's owner (its role bounds the scopes)")
	_ = create.MarkFlagRequired("user")
	create.Flags().StringVar(&name, "name", "", "what the token is for")
	create.Flags().StringSliceVar(&scopes, "scope", nil, "permissions the token may use (repeat or comma-separate; patterns like inventory.* allowed; default: all of the role's)")
	create.Flags().StringVar(&expires, "expires", "90d", "lifetime: e.g. 90d, 12h, or never")

	var listUser string
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAuth(cmd, func(ctx context.Context, s *auth.Service) error {
				ts, err := s.ListTokens(ctx, listUser)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tPREFIX\tUSER\tNAME\tSCOPES\tEXPIRES\tREVOKED\tLAST USED")
				t := func(v *time.Time) string {
					if v == nil {
						return "-"
					}
					return v.Format(time.DateTime)
				}
				for _, k := range ts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.User, k.Name,
						strings.Join(k.Scopes, ","), t(k.ExpiresAt), t(k.RevokedAt), t(k.LastUsedAt))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "only this user's tokens")

	revoke := &cobra.Command{
		Use:   "revoke ID|PREFIX",
		Short: "Revoke an API token; it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withAuth(cmd, func(ctx context.Context, s *auth.Service) error {
				t, err := s.RevokeToken(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s of %s\n", t.Prefix, t.User)
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// parseExpiry reads a token lifetime: Nd (days), a Go duration, or never.
func parseExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "never" || s == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 3650 {
			return 0, errs.WithField("expires", "days must be from 1 to 3650")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return 0, errs.WithField("expires", "use e.g. 90d, 12h or never")
	}
	return v, nil
}

func readSecretLine(cmd *cobra.Command) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && f == os.Stdin {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(cmd.ErrOrStderr(), "password: ")
		}
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return "", errs.E(errs.Invalid, "no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
