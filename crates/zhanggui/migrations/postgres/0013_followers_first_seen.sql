-- The followers list sorted by newest or oldest first walks this index to fill a page
-- (followers/query.rs Plan::SortIndex) instead of sorting every match. It changes only when
-- a follower first appears (or an earlier message of theirs is folded in late), so the
-- callback's updates of a known follower do not touch it.
CREATE INDEX followers_first_seen ON followers (merchant_id, account_id, first_seen_at);
