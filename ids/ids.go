// Package ids makes OmniHub's internal identifiers: UUIDv7 strings, which sort
// by creation time and are unique without coordination between processes.
package ids

import "github.com/google/uuid"

// New returns a new UUIDv7 as a string.
func New() string {
	return uuid.Must(uuid.NewV7()).String()
}
