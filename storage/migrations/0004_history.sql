-- 0004: every version kept, every removal noticed (issue 12).
--
-- The articles row is an article's current state, article_versions holds the
-- states it had before, each with when it was first seen (seen_from, the
-- articles.updated of the time), when it was last seen (last_seen) and when the
-- change was seen (seen_until), with the raw page of that state (zlib).
-- seen_from is the articles.current_since of the time.
-- Rows are keyed by URL (like pages), so `copy` carries them between backends.
CREATE TABLE article_versions (
    id           {id},
    url          TEXT NOT NULL REFERENCES articles (url) ON DELETE CASCADE,
    seen_from    {timestamp} NOT NULL,
    seen_until   {timestamp} NOT NULL,
    last_seen    {timestamp} NOT NULL,
    title        TEXT NOT NULL,
    published    {timestamp},
    authors      {json} NOT NULL,
    summary      TEXT NOT NULL,            -- the lead (or first paragraph)
    body_html    TEXT NOT NULL,
    body_text    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    html         {bytes},                  -- the fetched page of this state, zlib, NULL if none kept
    UNIQUE (url, seen_from)
);
CREATE INDEX article_versions_seen_until ON article_versions (seen_until);

-- Removal: status 'live' or 'removed' (removed_at: when confirmed), a revisit
-- that found removal evidence (404/410, a redirect home or to a listing, an
-- empty or error page) leaves it in pending_reason / pending_since until a
-- second revisit agrees at least [fetch] removal_confirm_after later.
ALTER TABLE articles ADD COLUMN status TEXT NOT NULL DEFAULT 'live';
ALTER TABLE articles ADD COLUMN removed_at {timestamp};
ALTER TABLE articles ADD COLUMN pending_reason TEXT;
ALTER TABLE articles ADD COLUMN pending_since {timestamp};
-- Revisits: first_seen is when qkfeed first stored it, revisit_step counts the
-- [fetch] revisit steps already done (the schedule itself is config: a
-- changed schedule applies to every article at once), stored_by is 'fetch' or
-- 'backfill' (a backfilled article is revisited only when recently published).
ALTER TABLE articles ADD COLUMN revisit_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE articles ADD COLUMN stored_by TEXT NOT NULL DEFAULT 'fetch';
ALTER TABLE articles ADD COLUMN revisits INTEGER NOT NULL DEFAULT 0;   -- revisits done
ALTER TABLE articles ADD COLUMN edits INTEGER NOT NULL DEFAULT 0;      -- rows in article_versions
ALTER TABLE articles ADD COLUMN last_seen {timestamp};                 -- last fetch showing this state
-- Any change to the row (content, removal, revisit): copy's clock.
ALTER TABLE articles ADD COLUMN changed_at {timestamp};
-- When the current state was first seen (its version's seen_from).  Not `updated`:
-- `reextract` rewrites an extraction in place (a new profile is no edit) and moves
-- `updated` so feeds show the better text, without starting a version.
ALTER TABLE articles ADD COLUMN current_since {timestamp};

-- Existing archives: the current row is the first version, seen since its last
-- change: how an article came is unknown, so it is treated as backfilled (a
-- revisit only when recently published: no wave of revisits over old archives).
UPDATE articles SET changed_at = updated, last_seen = updated, current_since = updated,
    stored_by = 'backfill';

CREATE INDEX articles_revisit ON articles (source_id, revisit_step, first_seen);
-- retire_revisits: the backfilled articles not done with their revisits, without the others
CREATE INDEX articles_backfill_revisit ON articles (source_id, stored_by, revisit_step);
CREATE INDEX articles_pending ON articles (source_id, pending_since);
CREATE INDEX articles_removed ON articles (status, removed_at);
