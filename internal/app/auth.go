package app

import (
	"context"

	"omnihub/api"
	"omnihub/auth"
	"omnihub/store"
)

// wireAuth installs authentication on every non-public route, has the API
// server's own changes (dead-letter actions) audited, and registers the
// login, account, token and audit routes.
func (a *App) wireAuth() {
	a.Auth = auth.NewService(a.DB, auth.Options{Logger: a.Log})
	a.API.Authenticate = a.Auth.Middleware
	a.API.AuditTx = func(ctx context.Context, tx store.Tx, e api.AuditEntry) error {
		return auth.AuditTx(ctx, tx, auth.Entry(e))
	}
	a.Auth.Register(a.API)
}
