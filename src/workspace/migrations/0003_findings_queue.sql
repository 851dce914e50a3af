-- payrecon workspace, schema version 3: the findings queue pages at any size.
--
-- Indexes on the queue's sort keys, so that each page is one index range
-- read in every order (keyset paging: never an OFFSET). The keys are
-- expressions over the row (src/workspace/findings.rs spells the same
-- expressions in its queries, which is how SQLite picks these indexes), not
-- columns: nothing else changes, and an UPDATE of a status touches none of them.
--
-- severity rank: most severe first.
-- amount key: |difference| as text that sorts like the number (integer part
--   zero-padded to 20 digits, then the fraction as stored; amounts are
--   canonical decimal text with at least two fraction digits). Exact: no float.
-- key sort: the key in natural order (user:2 before user:10): the text before
--   the trailing digits, then the number by its length and digits.
-- bill group / user group: the queue's groups (a finding without a bill or a
--   user is its own group), and their keys in natural order.

CREATE INDEX findings_page_severity ON findings (database, (CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END), first_seen_at, id);
CREATE INDEX findings_page_amount ON findings (database, (substr('00000000000000000000' || substr(ltrim(COALESCE(difference, '0.00'), '-'), 1, instr(ltrim(COALESCE(difference, '0.00'), '-'), '.') - 1), -20) || substr(ltrim(COALESCE(difference, '0.00'), '-'), instr(ltrim(COALESCE(difference, '0.00'), '-'), '.'))), id);
CREATE INDEX findings_page_age ON findings (database, first_seen_at, id);
CREATE INDEX findings_page_kind ON findings (database, kind, (rtrim(key, '0123456789') || char(1) || substr('0000' || length(ltrim(substr(key, length(rtrim(key, '0123456789')) + 1), '0')), -4) || ltrim(substr(key, length(rtrim(key, '0123456789')) + 1), '0')), id);
CREATE INDEX findings_page_key ON findings (database, (rtrim(key, '0123456789') || char(1) || substr('0000' || length(ltrim(substr(key, length(rtrim(key, '0123456789')) + 1), '0')), -4) || ltrim(substr(key, length(rtrim(key, '0123456789')) + 1), '0')), id);
CREATE INDEX findings_by_bill_group ON findings (database, (COALESCE(NULLIF(agent_bill_no, ''), key)));
CREATE INDEX findings_by_user_group ON findings (database, (CASE WHEN user_id IS NULL THEN key ELSE 'user:' || user_id END));
CREATE INDEX findings_page_bill_group ON findings (database, (rtrim((COALESCE(NULLIF(agent_bill_no, ''), key)), '0123456789') || char(1) || substr('0000' || length(ltrim(substr((COALESCE(NULLIF(agent_bill_no, ''), key)), length(rtrim((COALESCE(NULLIF(agent_bill_no, ''), key)), '0123456789')) + 1), '0')), -4) || ltrim(substr((COALESCE(NULLIF(agent_bill_no, ''), key)), length(rtrim((COALESCE(NULLIF(agent_bill_no, ''), key)), '0123456789')) + 1), '0')), id);
CREATE INDEX findings_page_user_group ON findings (database, (CASE WHEN user_id IS NULL THEN (rtrim(key, '0123456789') || char(1) || substr('0000' || length(ltrim(substr(key, length(rtrim(key, '0123456789')) + 1), '0')), -4) || ltrim(substr(key, length(rtrim(key, '0123456789')) + 1), '0')) ELSE 'user:' || char(1) || substr('0000' || length(user_id), -4) || user_id END), id);
