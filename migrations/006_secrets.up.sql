-- Encryption at rest (README "Encryption at rest"). The keys never reach
-- PostgreSQL: values are sealed by flowd (store/secrets.go), and the rows an
-- older flowd wrote in clear are sealed by `flowd serve`/`worker`/`migrate`
-- at start. What a migration can do is make the walk over the stored
-- secrets (start-up check, `flowd keys rotate`) cheap: the executions whose
-- trigger variables hold a sealed value (a value given for a secret
-- variable) are few among many, and this index finds them without reading
-- the others.
CREATE INDEX executions_sealed_variables_idx ON executions (id)
    WHERE variables::text LIKE '%"fdenc:1:%';
