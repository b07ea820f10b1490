ALTER TABLE flows DROP COLUMN IF EXISTS propagate_trace;
