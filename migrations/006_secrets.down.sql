DROP INDEX IF EXISTS executions_sealed_variables_idx;
