package api

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// signingSecret is the answer of the signing secret rotation (the secret
// is shown this once).
type signingSecret struct {
	FlowID        uuid.UUID `json:"flow_id"`
	SigningSecret string    `json:"signing_secret"`
	// PreviousValidUntil is when requests stop carrying the previous
	// secret's signature; null when the flow did not sign before.
	PreviousValidUntil *time.Time `json:"previous_valid_until"`
}

// POST /v1/webhooks/{id}/signing-secret: give the flow a new outbound
// signing secret made by flowd; the previous one, if any, keeps signing
// beside it for flow.SigningSecretOverlap.
func (s *Server) signingSecretRotate(w http.ResponseWriter, r *http.Request) error {
	id, p, err := s.editableFlow(r)
	if err != nil {
		return err
	}
	secret := flow.NewSigningSecret()
	ss, err := audited(s, r, func(tx *store.Store) (flow.SigningSecrets, note, error) {
		ss, err := tx.FlowRotateSigningSecret(r.Context(), p.CompanyID, id, secret, time.Now())
		if err != nil {
			return ss, note{}, err
		}
		return ss, note{action: store.AuditFlowSigningSecretRotate, targetType: store.AuditTargetFlow, targetID: id,
			summary: "outbound signing secret rotated; the previous one signs too for a while"}, nil
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "signing secret rotated", "flow_id", id, "company_id", p.CompanyID)
	msg := "signing secret set; requests are signed with it from now on"
	if ss.PreviousUntil != nil {
		msg = "signing secret rotated; requests carry the previous secret's signature too until " +
			ss.PreviousUntil.UTC().Format(time.RFC3339)
	}
	writeOK(w, http.StatusOK, msg, signingSecret{FlowID: id, SigningSecret: secret, PreviousValidUntil: ss.PreviousUntil})
	return nil
}
