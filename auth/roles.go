package auth

import (
	"slices"
	"sort"
	"strings"

	"omnihub/errs"
)

// Role names a set of permissions. A user has exactly one role.
type Role string

const (
	RoleAdmin     Role = "admin"
	RoleOperator  Role = "operator"
	RoleWarehouse Role = "warehouse"
	RoleFinance   Role = "finance"
	RoleAuditor   Role = "auditor"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleOperator, RoleWarehouse, RoleFinance, RoleAuditor}

// Permissions with a meaning beyond "<resource>.read/write".
const (
	// PermAdmin guards accounts, tokens and settings.
	PermAdmin = "admin"
	// PermPII lets the holder see personal data (receiver name, phone,
	// address) unmasked; see CanSeePII and package mask.
	PermPII = "orders.pii"
	// PermAuditRead lets the holder read the audit log.
	PermAuditRead = "audit.read"
)

// grants is the permission matrix. A grant is an exact permission, "x.*"
// (every permission of resource x), "*.read" (every read permission) or "*".
// Patterns keep the matrix right for permissions that modules add later:
// a new "purchasing.read" is visible to the auditor without editing this.
var grants = map[Role][]string{
	RoleAdmin: {"*"},
	RoleOperator: {
		"catalog.read", "catalog.write",
		"inventory.read", "inventory.write",
		"orders.read", "orders.write", PermPII,
		"aftersales.read", "aftersales.write",
		"channels.read", "channels.write",
		// Dead letters are mostly failed channel calls; the people running
		// the channels retry or skip them.
		"jobs.read", "jobs.write",
	},
	RoleWarehouse: {
		"inventory.read", "inventory.write",
		"orders.read",
		"fulfillment.read", "fulfillment.write",
		"logistics.read", "logistics.write",
		// Scan-to-pack and stocktakes look SKUs and barcodes up.
		"catalog.read",
	},
	RoleFinance: {
		"orders.read", "aftersales.read", "finance.read", PermPII,
	},
	// The auditor reads everything (including the audit log, audit.read)
	// but never personal data: orders.pii is not a ".read" permission.
	RoleAuditor: {"*.read"},
}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := grants[r]; !ok {
		return "", errs.WithField("role", "must be one of "+strings.Join(roleNames(), ", "))
	}
	return r, nil
}

func roleNames() []string {
	var out []string
	for _, r := range Roles {
		out = append(out, string(r))
	}
	return out
}

// Has reports whether the role grants perm. The empty permission (routes
// open to any authenticated principal) is granted to every role.
func (r Role) Has(perm string) bool {
	if perm == "" {
		return true
	}
	return matchAny(grants[r], perm)
}

// Grants returns the role's grant patterns, for display.
func (r Role) Grants() []string { return slices.Clone(grants[r]) }

func matchAny(patterns []string, perm string) bool {
	for _, g := range patterns {
		if match(g, perm) {
			return true
		}
	}
	return false
}

// match reports whether grant pattern g covers perm.
func match(g, perm string) bool {
	switch {
	case g == "*" || g == perm:
		return true
	case strings.HasPrefix(g, "*."):
		_, action, ok := strings.Cut(perm, ".")
		return ok && action == g[2:]
	case strings.HasSuffix(g, ".*"):
		res, _, ok := strings.Cut(perm, ".")
		return ok && res == g[:len(g)-2]
	}
	return false
}

// validGrant reports whether s is a well-formed permission or pattern.
func validGrant(s string) bool {
	if s == "*" || s == PermAdmin {
		return true
	}
	res, action, ok := strings.Cut(s, ".")
	if !ok || res == "" || action == "" || (res == "*" && action == "*") {
		return false
	}
	for _, part := range []string{res, action} {
		if part == "*" {
			continue
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ValidPermission reports whether s is a well-formed permission a route may
// require: "admin" or "<resource>.<action>" in lower case, no wildcards.
func ValidPermission(s string) bool {
	return validGrant(s) && !strings.Contains(s, "*") && s != "*"
}

// NormalizeScopes validates token scopes against the owner's role: every
// scope must be well formed and, when it names an exact permission, one the
// role has (a token can only narrow its owner's rights). Empty means
// "everything the role has", stored as "*".
func NormalizeScopes(role Role, scopes []string) ([]string, error) {
	var out []string
	for _, s := range scopes {
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			if !validGrant(part) {
				return nil, errs.WithField("scope", "malformed scope "+part)
			}
			if !strings.Contains(part, "*") && !role.Has(part) {
				return nil, errs.WithField("scope", "role "+string(role)+" does not have "+part)
			}
			if !slices.Contains(out, part) {
				out = append(out, part)
			}
		}
	}
	if len(out) == 0 {
		return []string{"*"}, nil
	}
	sort.Strings(out)
	return out, nil
}
