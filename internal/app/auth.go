package app

import (
	"omnihub/auth"
)

// wireAuth installs authentication on every non-public route and registers
// the login, account, token and audit routes.
func (a *App) wireAuth() {
	a.Auth = auth.NewService(a.DB, auth.Options{Logger: a.Log})
	a.API.Authenticate = a.Auth.Middleware
	a.Auth.Register(a.API)
}
