-- Portcullis PostgreSQL schema, version 7: access tokens' records as JSON, not JSONB.
-- Nothing queries inside an access token's record; it is written once by an insert and read
-- whole by a primary-key look-up. JSONB parsed it into its binary form on every insert and
-- rendered it back to text on every read: with pgbench on the benchmark's server, a batched
-- insert cost PostgreSQL ~25 µs of CPU per row as JSONB and ~18 µs as JSON, and a batched
-- look-up ~17 µs per token as JSONB and ~13 µs as text. JSON only checks the text's syntax.
-- Existing rows are converted here.
ALTER TABLE access_tokens ALTER COLUMN record TYPE JSON USING record::JSON;
