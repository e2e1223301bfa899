-- teamscim schema, version 2: every SCIM attribute a user or group has beyond the typed columns
-- (store.User.Attributes, store.Group.Attributes), kept as jsonb, and an index of the values of
-- the users' emails (store.Tx.UsersByEmail). Existing rows get no such attributes ('{}').
--
-- attributes is written by pgstore exactly as the root package encoded it; jsonb keeps it as a
-- JSON object and returns it re-encoded (keys reordered, whitespace changed), which the store
-- contract allows: the object is compared semantically.

ALTER TABLE teamscim_users ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE teamscim_groups ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}';

-- email_keys holds the SHA-256 digests of the folded (store.Fold) values of the user's emails,
-- like user_name_key. pgstore computes them on every write; rows written before this version
-- get them from lower(), which folds ASCII exactly as store.Fold does (a non-ASCII capital
-- letter in an existing email is folded by pgstore on the user's next write).
ALTER TABLE teamscim_users ADD COLUMN email_keys bytea[] NOT NULL DEFAULT '{}';

UPDATE teamscim_users u SET email_keys = ARRAY(
    SELECT DISTINCT sha256(convert_to(lower(e->>'value'), 'UTF8'))
    FROM jsonb_array_elements(u.emails) AS e
    WHERE coalesce(e->>'value', '') <> ''
);

CREATE INDEX teamscim_users_email_keys ON teamscim_users USING gin (email_keys);
