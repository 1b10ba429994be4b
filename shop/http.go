package shop

import (
	"net/http"

	"omnihub/api"
	"omnihub/channel"
)

// Permissions of the shop routes (the sync engine's list, create and read
// routes of shops use the same).
const (
	PermRead  = "channels.read"
	PermWrite = "channels.write"
)

// Register adds the routes that change a shop after it is connected:
// PATCH /api/v1/shops/{id} (name, status, settings) and
// PUT /api/v1/shops/{id}/credentials (rotation). Both are audited with the
// acting user. Listing, connecting and reading shops are the sync engine's
// routes (sync.Engine.Routes).
func (s *Service) Register(srv *api.Server) {
	tags := []string{"sync"}
	srv.HandleOp(api.Op{Method: "PATCH", Path: "/api/v1/shops/{id}", Permission: PermWrite, Tags: tags,
		Summary: "Change a shop's name, status or settings (audited)",
		Description: "Only the fields given change; in settings, only the keys given. " +
			"status paused stops the shop's pulls and pushes; active resumes them and schedules a reconciliation. " +
			"Durations are Go duration strings (\"90s\", \"1m30s\"); null puts one back to its default.",
		Request: Change{}, Response: Shop{}}, func(w http.ResponseWriter, r *http.Request) error {
		var c Change
		if err := api.DecodeJSON(r, &c); err != nil {
			return err
		}
		sh, err := s.Update(r.Context(), r.PathValue("id"), c)
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, sh)
	})
	srv.HandleOp(api.Op{Method: "PUT", Path: "/api/v1/shops/{id}/credentials", Permission: PermWrite, Tags: tags,
		Summary: "Replace a shop's credentials (rotation; audited without secrets)",
		Description: "Every field is replaced: send the whole set (app_key and app_secret are required). " +
			"Use it after rotating the app secret or when the seller authorises the app again; " +
			"routine token refreshes happen by themselves. The answer is the shop, never the credentials.",
		Request: channel.Credentials{}, Response: Shop{}}, func(w http.ResponseWriter, r *http.Request) error {
		var c channel.Credentials
		if err := api.DecodeJSON(r, &c); err != nil {
			return err
		}
		sh, err := s.RotateCredentials(r.Context(), r.PathValue("id"), c)
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, sh)
	})
}
