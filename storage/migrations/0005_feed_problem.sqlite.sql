-- 0005: a source's broken-feed note in a column of its own (was packed into `degraded`).
--
-- feed_problem says why the last run that read the feeds found them broken (and
-- the HTML listing was read instead), NULL when they worked; `degraded` is only
-- the profile's verdict again.  Per backend only for the string search (instr here,
-- strpos in PostgreSQL): keep the two files alike.
ALTER TABLE source_state ADD COLUMN feed_problem TEXT;
ALTER TABLE runs ADD COLUMN feed_problem TEXT;

-- Existing archives: "feed listing failed: NOTE | REST" (or "feed listing failed: NOTE")
-- becomes feed_problem NOTE and degraded REST (NULL when none).  The note had every
-- "|" replaced, so the first " | " is the separator.  The prefix is 21 characters.
UPDATE source_state SET
    feed_problem = CASE WHEN instr(substr(degraded, 22), ' | ') > 0
        THEN substr(degraded, 22, instr(substr(degraded, 22), ' | ') - 1)
        ELSE substr(degraded, 22) END,
    degraded = CASE WHEN instr(substr(degraded, 22), ' | ') > 0
        THEN NULLIF(substr(degraded, 22 + instr(substr(degraded, 22), ' | ') + 2), '')
        ELSE NULL END
WHERE substr(degraded, 1, 21) = 'feed listing failed: ';

UPDATE runs SET
    feed_problem = CASE WHEN instr(substr(degraded, 22), ' | ') > 0
        THEN substr(degraded, 22, instr(substr(degraded, 22), ' | ') - 1)
        ELSE substr(degraded, 22) END,
    degraded = CASE WHEN instr(substr(degraded, 22), ' | ') > 0
        THEN NULLIF(substr(degraded, 22 + instr(substr(degraded, 22), ' | ') + 2), '')
        ELSE NULL END
WHERE substr(degraded, 1, 21) = 'feed listing failed: ';
