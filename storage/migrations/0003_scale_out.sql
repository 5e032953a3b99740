-- 0003: several workers on one database, and syndicated copies of a story.
--
-- Source leases (scraper/leases.py): the worker that holds a source's lease is
-- the only one fetching it; a lease ends at `expires` unless its holder renews
-- it, so a dead worker's sources are taken over.  `last_run` (start of the
-- last run, by any worker: set when the lease is taken, so a run whose worker
-- died counts too) keeps every worker away for an interval after it.
CREATE TABLE source_leases (
    source_id    TEXT PRIMARY KEY,
    holder       TEXT,                 -- worker id (host:pid:random) or NULL: free
    expires      {timestamp},          -- NULL when free
    last_run     {timestamp},          -- start of the last run
    last_holder  TEXT                  -- the worker that ran it
);

-- Near-duplicate clusters (scraper/syndication.py): the same story published
-- by several sites.  cluster_id is the id of the cluster's earliest article
-- (by COALESCE(published, first_seen), then id), the same on every member,
-- the earliest included; NULL for an article with no copies.
ALTER TABLE articles ADD COLUMN cluster_id BIGINT;
CREATE INDEX articles_cluster ON articles (cluster_id);

-- The MinHash signature of an article's body, to verify a candidate.
CREATE TABLE article_signatures (
    article_id  BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    signature   {bytes} NOT NULL
);

-- Its LSH band keys: an article sharing one is a candidate copy.  Candidates
-- are found by key lookup, so the cost per new article does not grow with
-- the archive.
CREATE TABLE article_bands (
    band_key    BIGINT NOT NULL,
    article_id  BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (band_key, article_id)
);
CREATE INDEX article_bands_article ON article_bands (article_id);
