-- Back to the secret in every definition version, as the code before 010
-- reads it: each version gets the flow's current secret. The previous
-- secret and its overlap are dropped.
UPDATE flow_versions v SET definition = v.definition || jsonb_build_object('signing_secret', f.signing_secret)
FROM flows f WHERE f.id = v.flow_id AND f.signing_secret IS NOT NULL;

ALTER TABLE flows
    DROP COLUMN signing_secret_previous,
    DROP COLUMN signing_secret_previous_until;
