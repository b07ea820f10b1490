package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// insertVersion stores def as its flow's version def.Version.
func (s *Store) insertVersion(ctx context.Context, def *flow.Definition) error {
	sealed, err := s.sealDefinition(def)
	if err != nil {
		return fmt.Errorf("insert flow version: %w", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO flow_versions (flow_id, version, definition) VALUES ($1, $2, $3)`,
		def.FlowID, def.Version, encodeDefinition(sealed))
	if err != nil {
		return fmt.Errorf("insert flow version: %w", err)
	}
	return nil
}

// FlowDefinition returns the immutable definition of one version of a
// flow of the company.
func (s *Store) FlowDefinition(ctx context.Context, companyID, flowID uuid.UUID, version int) (*flow.Definition, error) {
	if err := requireCompany("get flow definition", companyID); err != nil {
		return nil, err
	}
	return s.getDefinition(ctx, flowID, version, `SELECT v.definition FROM flow_versions v
		JOIN flows f ON f.id = v.flow_id
		WHERE v.flow_id = $1 AND v.version = $2 AND f.company_id = $3`, flowID, version, companyID)
}

// FlowDefinitionForRun returns the immutable definition of one version of
// a flow whatever its company, for the worker that runs an execution of
// it (read by ExecutionsGetForRun).
func (s *Store) FlowDefinitionForRun(ctx context.Context, flowID uuid.UUID, version int) (*flow.Definition, error) {
	return s.getDefinition(ctx, flowID, version,
		`SELECT definition FROM flow_versions WHERE flow_id = $1 AND version = $2`, flowID, version)
}

// getDefinition runs a query of one flow_versions.definition.
func (s *Store) getDefinition(ctx context.Context, flowID uuid.UUID, version int, query string, args ...any) (*flow.Definition, error) {
	var raw json.RawMessage
	if err := s.db.QueryRow(ctx, query, args...).Scan(&raw); err != nil {
		return nil, fmt.Errorf("get flow %s version %d: %w", flowID, version, interpretError(err))
	}
	def, err := decodeDefinition(raw)
	if err == nil {
		err = s.openPredefined(def.PredefinedVariables)
	}
	if err != nil {
		return nil, fmt.Errorf("get flow %s version %d: %w", flowID, version, err)
	}
	return def, nil
}
