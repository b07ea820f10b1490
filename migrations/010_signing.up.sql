-- Outbound signing secrets belong to the flow, not to a definition
-- version, so that a rotation applies to every execution at once: the
-- secret leaves flow_versions.definition and lives only in flows
-- (store/signing.go is its one reader and writer). After a rotation the
-- previous secret keeps signing beside the new one until
-- signing_secret_previous_until (flow.SigningSecretOverlap).
--
-- Secrets stored before this migration that are not in the whsec_ form
-- are left as they are: flowd keeps keying the HMAC with their raw bytes
-- (flow.signingKey), so their receivers keep verifying, until the flow's
-- secret is rotated. Converting them (whsec_ and the base64 of the same
-- bytes) would change nothing receivers see, but SQL would have to read
-- the plaintext, which it must not assume: secrets are encrypted at rest.
ALTER TABLE flows
    ADD COLUMN signing_secret_previous       text,
    ADD COLUMN signing_secret_previous_until timestamptz;

UPDATE flow_versions SET definition = definition - 'signing_secret'
WHERE definition ? 'signing_secret';
