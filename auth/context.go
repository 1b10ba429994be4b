// Package auth owns who may do what: users and their roles (a permission
// matrix), argon2id password hashing, console sessions with CSRF protection,
// scoped API tokens, per-token rate limits, the HTTP authentication hook for
// api.Server, and the audit log that records every change with its actor.
//
// Other packages use three helpers: ActorFrom(ctx) names who acts, AuditTx
// records a change inside the caller's transaction, and CanSeePII(ctx) tells
// whether personal data may be shown unmasked (see package mask).
package auth

import (
	"context"
	"slices"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID string   `json:"user_id,omitempty"`
	User   string   `json:"user"`
	Role   Role     `json:"role"`
	Via    string   `json:"via"`              // "session", "token" or "internal"
	Scopes []string `json:"scopes,omitempty"` // token scopes; nil means the whole role
	// TokenID and TokenPrefix identify the API token used, if any.
	TokenID     string `json:"-"`
	TokenPrefix string `json:"token_prefix,omitempty"`
	// SessionHash identifies the console session used, if any.
	SessionHash string `json:"-"`
	CSRFToken   string `json:"-"`
}

// Can reports whether the principal holds perm: its role grants it and, for
// a token, one of the token's scopes covers it.
func (p *Principal) Can(perm string) bool {
	if p == nil || !p.Role.Has(perm) {
		return false
	}
	if p.Scopes == nil || perm == "" {
		return true
	}
	return matchAny(p.Scopes, perm)
}

// Permissions lists the known permissions the principal holds, for display.
func (p *Principal) Permissions() []string {
	var out []string
	for _, perm := range KnownPermissions() {
		if p.Can(perm) {
			out = append(out, perm)
		}
	}
	return out
}

// Actor is the name written to the audit log: the user, plus the token
// prefix when a token was used (so a leaked token's actions can be found).
func (p *Principal) Actor() string {
	switch {
	case p == nil:
		return "system"
	case p.Via == "token":
		return p.User + " (token " + p.TokenPrefix + ")"
	default:
		return p.User
	}
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// WithActor marks ctx as acting on behalf of a trusted internal caller (a
// CLI command run by the machine's operator, a job): the actor is recorded
// in the audit log and holds every permission.
func WithActor(ctx context.Context, actor string) context.Context {
	return WithPrincipal(ctx, &Principal{User: actor, Role: RoleAdmin, Via: "internal"})
}

// PrincipalFrom returns the principal of ctx, if any.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// ActorFrom names who acts in ctx, for audit and logs; "system" when no
// principal is attached (background work).
func ActorFrom(ctx context.Context) string {
	p, _ := PrincipalFrom(ctx)
	return p.Actor()
}

// Can reports whether the principal of ctx holds perm; false without one.
func Can(ctx context.Context, perm string) bool {
	p, _ := PrincipalFrom(ctx)
	return p.Can(perm)
}

// CanSeePII reports whether personal data (receiver name, phone, address)
// may be shown unmasked to the principal of ctx. Without a principal the
// answer is no: masking is the safe default.
func CanSeePII(ctx context.Context) bool { return Can(ctx, PermPII) }

// knownPerms are the permissions the API uses, for display and docs; Role.Has
// works for any permission string, listed here or not.
var knownPerms = []string{
	PermAdmin, PermAuditRead, PermPII,
	"aftersales.read", "aftersales.write",
	"catalog.read", "catalog.write",
	"channels.read", "channels.write",
	"finance.read", "finance.write",
	"fulfillment.read", "fulfillment.write",
	"inventory.read", "inventory.write",
	"jobs.read", "jobs.write",
	"logistics.read", "logistics.write",
	"orders.read", "orders.write",
}

// KnownPermissions returns the permissions the API is known to use.
func KnownPermissions() []string { return slices.Clone(knownPerms) }

// RegisterPermissions adds permissions a module uses to KnownPermissions
// (display only: checks work without it).
func RegisterPermissions(perms ...string) {
	for _, p := range perms {
		if !slices.Contains(knownPerms, p) {
			knownPerms = append(knownPerms, p)
		}
	}
	slices.Sort(knownPerms)
}
