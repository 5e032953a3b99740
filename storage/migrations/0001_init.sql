-- 0001: articles, raw pages, conditional-GET cache, per-source state and run
-- history, backfill state, and the change counter behind Store.version().
--
-- Type macros (expanded per backend):
--   {id}         auto-increment integer primary key
--   {timestamp}  an instant in UTC (ISO 8601 text in SQLite, timestamptz in PostgreSQL)
--   {bytes}      binary data (BLOB / bytea)
--   {json}       a JSON document (TEXT / jsonb)

CREATE TABLE articles (
    id            {id},
    url           TEXT NOT NULL UNIQUE,        -- canonical URL, the article key
    guid          TEXT NOT NULL UNIQUE,        -- urn:uuid:<uuid5(url)>, fixed at first insert
    source_id     TEXT NOT NULL,
    title         TEXT NOT NULL,
    published     {timestamp},
    modified      {timestamp},
    authors       {json} NOT NULL,             -- JSON array of strings
    agencies      {json} NOT NULL,             -- JSON array of strings
    categories    {json} NOT NULL,             -- JSON array of strings
    body_html     TEXT NOT NULL,
    body_text     TEXT NOT NULL,
    summary       TEXT NOT NULL,
    image_url     TEXT,
    fingerprint   TEXT NOT NULL,
    original_url  TEXT NOT NULL,
    search_text   TEXT NOT NULL,               -- fold_accents(title || ' ' || body_text)
    first_seen    {timestamp} NOT NULL,
    updated       {timestamp} NOT NULL,        -- last content change (= first_seen if none)
    change_seq    BIGINT NOT NULL UNIQUE       -- counters.articles at the last insert/update
);

-- latest(): newest first by COALESCE(published, first_seen), then id.
CREATE INDEX articles_newest ON articles ((COALESCE(published, first_seen)), id);
CREATE INDEX articles_source_newest ON articles (source_id, (COALESCE(published, first_seen)), id);
-- count_articles(source) and source_health() (articles first seen in the last day).
CREATE INDEX articles_source_first_seen ON articles (source_id, first_seen);

-- The fetched HTML of an article page, zlib-compressed, for re-extraction.
CREATE TABLE pages (
    url         TEXT PRIMARY KEY REFERENCES articles (url) ON DELETE CASCADE,
    fetched_at  {timestamp} NOT NULL,
    html        {bytes} NOT NULL
);

-- Validators of listing pages for conditional GET.
CREATE TABLE http_cache (
    url            TEXT PRIMARY KEY,
    etag           TEXT,
    last_modified  TEXT,
    stored_at      {timestamp} NOT NULL
);

-- One row per source that has run at least once.
CREATE TABLE source_state (
    source_id             TEXT PRIMARY KEY,
    last_run              {timestamp} NOT NULL,   -- start of the last run
    last_success          {timestamp},            -- start of the last ok run
    last_errors           INTEGER NOT NULL,       -- errors in the last run
    consecutive_failures  INTEGER NOT NULL,       -- reset to 0 by an ok run
    last_error            TEXT,                   -- message of the last run
    degraded              TEXT                    -- set or cleared by every run
);

CREATE TABLE runs (
    id             {id},
    source_id      TEXT NOT NULL,
    started        {timestamp} NOT NULL,
    finished       {timestamp} NOT NULL,
    ok             BOOLEAN NOT NULL,
    new_count      INTEGER NOT NULL,
    updated_count  INTEGER NOT NULL,
    error_count    INTEGER NOT NULL,
    message        TEXT,
    degraded       TEXT
);
CREATE INDEX runs_source_started ON runs (source_id, started);

CREATE TABLE backfill_state (
    source_id   TEXT PRIMARY KEY,
    state       {json} NOT NULL,                  -- a JSON object
    updated_at  {timestamp} NOT NULL
);

-- Monotonic counters; 'articles' is bumped by every article insert/update (and
-- must be by any future delete), so Store.version() is one primary-key lookup.
CREATE TABLE counters (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('articles', 0);
