-- An execution's row is updated several times while it runs (each step's
-- checkpoint and result rewrite steps, updated_at ...), and only the first
-- and last of those change an indexed column (status). Leaving 30% of each
-- page free lets the others be HOT updates: the new row version goes on the
-- same page and no index is written. It applies to pages written from now
-- on; existing pages keep their fill until they are rewritten.
ALTER TABLE executions SET (fillfactor = 70);
