-- 0002 (SQLite): full-text search over articles.search_text.
--
-- search_text is already folded (lower case, no diacritics, đ -> d: see
-- storage.base.search_text), so the unicode61 tokenizer only has to split it
-- into words; remove_diacritics 2 folds whatever the folding left.  An
-- external-content FTS5 table: the text lives once, in articles; the index is
-- kept in step by the triggers below, so every writer (upserts, copy) is
-- covered.  latest(q=...) matches every word of the query (AND).

CREATE VIRTUAL TABLE articles_fts USING fts5(
    search_text,
    content = 'articles',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF search_text ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    INSERT INTO articles_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;

-- Index the articles stored before this migration.
INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');
