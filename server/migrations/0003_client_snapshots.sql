-- The client snapshot (spec/SNAPSHOT.md §9) signed next to each server snapshot: only
-- client-visible flags, targeting keys and sensitive operands digested. Same version, times and
-- key as the server snapshot of the row. NULL for versions published before this migration.
ALTER TABLE snapshots ADD COLUMN client_digest TEXT;
ALTER TABLE snapshots ADD COLUMN client_envelope TEXT;
