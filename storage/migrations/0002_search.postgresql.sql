-- 0002 (PostgreSQL): full-text search over articles.search_text.
--
-- search_text is already folded (lower case, no diacritics, đ -> d: see
-- storage.base.search_text).  qkfeed_search_words() turns punctuation into
-- spaces first, so the 'simple' parser sees plain words (it would otherwise
-- keep "12/3/2024", "qdnd.vn" or "“trích”" as single tokens); a GIN index on
-- the resulting tsvector serves latest(q=...), which matches every word of the
-- query: qkfeed_search_vector(search_text) @@ plainto_tsquery('simple',
-- qkfeed_search_words(folded query)).  Both functions are IMMUTABLE, so the
-- index is an expression index: no extra column, and every writer (upserts,
-- copy) is covered.

CREATE FUNCTION qkfeed_search_words(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate($1,
        '!"#$%&''()*+,-./:;<=>?@[\]^_`{|}~“”‘’‚„«»‹›–—―‐‑…·•°×÷§¶†‡′″№',
        repeat(' ', 60)) $$;

CREATE FUNCTION qkfeed_search_vector(text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_tsvector('simple'::regconfig, qkfeed_search_words($1)) $$;

CREATE INDEX articles_search ON articles USING GIN (qkfeed_search_vector(search_text));
