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
	a.API.AuditTx = AuditTx
	a.Auth.Register(a.API)
}

// AuditTx is the api.AuditFunc the modules that cannot import package auth
// (the API server, orders) record their changes with: auth.AuditTx, so the
// authentication middleware sees the request audited and adds no fallback
// row. An entry naming its own actor (a CLI command's user passed to the
// order service) is recorded under that name; otherwise the principal of
// ctx acts.
func AuditTx(ctx context.Context, tx store.Tx, e api.AuditEntry) error {
	if e.Actor != "" && e.Actor != auth.ActorFrom(ctx) {
		ctx = auth.WithActor(ctx, e.Actor)
	}
	return auth.AuditTx(ctx, tx, auth.Entry{Action: e.Action, Resource: e.Resource, ResourceID: e.ResourceID, Before: e.Before, After: e.After})
}
