-- The operator dashboard charts events published per minute over the last hour (outbox.published_at). A BRIN
-- index, not a B-tree: the relay's UPDATE that sets published_at is the outbox's hot write path, and a BRIN index
-- costs it at most a small summary update (nothing for rows on pages not yet summarised), while a B-tree would add
-- an index entry per published row. Rows are published soon after they are written, so a page range's newest
-- published_at tells the query whether the range can hold a row of the last hour; old, purged rows only widen a
-- range's minimum, which a "published since" query does not look at. See docs/pages.md, "Flow".
CREATE INDEX outbox_published_at ON outbox USING brin (published_at);
