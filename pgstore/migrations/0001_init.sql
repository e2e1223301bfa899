-- teamscim schema, version 1: teams, API keys, users, groups and their members, overage records
-- and jobs. Every table is named teamscim_* so that it can share a schema with the host's own
-- tables; the tables go to the first schema of the connection's search_path.
--
-- IDs are COLLATE "C" so that ORDER BY id is byte-wise, as Go compares strings. Uniqueness and
-- lookups of userNames, group displayNames and externalIds go through SHA-256 digests computed
-- by pgstore (*_key columns): fixed-size index entries, whatever the length of the value, and
-- userNames folded by Go's strings.ToLower (store.Fold), never by the database's own rules.
-- A NULL time is the zero time.

CREATE TABLE teamscim_teams (
    id               text COLLATE "C" PRIMARY KEY,
    name             text NOT NULL,
    plan             text NOT NULL,
    sso_methods      text[] NOT NULL,
    scim_enabled     boolean NOT NULL,
    verified_domains text[] NOT NULL,
    domain_capture   boolean NOT NULL,
    jit              boolean NOT NULL,
    created          timestamptz
);

CREATE TABLE teamscim_keys (
    team_id    text COLLATE "C" NOT NULL REFERENCES teamscim_teams (id),
    id         text COLLATE "C" NOT NULL,
    digest     bytea NOT NULL,
    name       text NOT NULL,
    status     text NOT NULL,
    created_by text NOT NULL,
    created    timestamptz,
    last_used  timestamptz,
    expires    timestamptz,
    PRIMARY KEY (team_id, id),
    CONSTRAINT teamscim_keys_digest_key UNIQUE (digest)
);

CREATE TABLE teamscim_users (
    team_id         text COLLATE "C" NOT NULL REFERENCES teamscim_teams (id),
    id              text COLLATE "C" NOT NULL,
    user_name       text NOT NULL,
    -- SHA-256 of store.Fold(user_name).
    user_name_key   bytea NOT NULL,
    external_id     text NOT NULL,
    -- SHA-256 of external_id; NULL for an empty externalId, which is not indexed.
    external_id_key bytea,
    given_name      text NOT NULL,
    family_name     text NOT NULL,
    middle_name     text NOT NULL,
    formatted       text NOT NULL,
    display_name    text NOT NULL,
    locale          text NOT NULL,
    emails          jsonb NOT NULL,
    active          boolean NOT NULL,
    deleted         boolean NOT NULL,
    managed         boolean NOT NULL,
    pending         boolean NOT NULL,
    seat            boolean NOT NULL,
    via_groups      boolean NOT NULL,
    roles           text[] NOT NULL,
    created         timestamptz,
    last_modified   timestamptz,
    version         bigint NOT NULL,
    PRIMARY KEY (team_id, id)
);

CREATE UNIQUE INDEX teamscim_users_user_name ON teamscim_users (team_id, user_name_key);
CREATE INDEX teamscim_users_external_id ON teamscim_users (team_id, external_id_key, id)
    WHERE external_id_key IS NOT NULL;

-- The number of users of each team in each (deleted, active, seat) combination, kept by the
-- statement triggers below, so that CountUsers (a seat count) reads at most eight rows.
CREATE TABLE teamscim_user_counts (
    team_id text COLLATE "C" NOT NULL,
    deleted boolean NOT NULL,
    active  boolean NOT NULL,
    seat    boolean NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (team_id, deleted, active, seat)
);

CREATE FUNCTION teamscim_count_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO teamscim_user_counts AS c (team_id, deleted, active, seat, n)
        SELECT team_id, deleted, active, seat, count(*) FROM new_rows GROUP BY 1, 2, 3, 4
        ON CONFLICT (team_id, deleted, active, seat) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO teamscim_user_counts AS c (team_id, deleted, active, seat, n)
        SELECT team_id, deleted, active, seat, -count(*) FROM old_rows GROUP BY 1, 2, 3, 4
        ON CONFLICT (team_id, deleted, active, seat) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO teamscim_user_counts AS c (team_id, deleted, active, seat, n)
        SELECT team_id, deleted, active, seat, sum(d) FROM (
            SELECT team_id, deleted, active, seat, 1 AS d FROM new_rows
            UNION ALL
            SELECT team_id, deleted, active, seat, -1 AS d FROM old_rows
        ) AS delta
        GROUP BY 1, 2, 3, 4
        HAVING sum(d) <> 0
        ON CONFLICT (team_id, deleted, active, seat) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER teamscim_users_count_insert AFTER INSERT ON teamscim_users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION teamscim_count_users();
CREATE TRIGGER teamscim_users_count_update AFTER UPDATE ON teamscim_users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION teamscim_count_users();
CREATE TRIGGER teamscim_users_count_delete AFTER DELETE ON teamscim_users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION teamscim_count_users();

CREATE TABLE teamscim_groups (
    team_id          text COLLATE "C" NOT NULL REFERENCES teamscim_teams (id),
    id               text COLLATE "C" NOT NULL,
    display_name     text NOT NULL,
    -- SHA-256 of display_name (displayNames are unique case-exactly).
    display_name_key bytea NOT NULL,
    external_id      text NOT NULL,
    roles            text[] NOT NULL,
    created          timestamptz,
    last_modified    timestamptz,
    version          bigint NOT NULL,
    PRIMARY KEY (team_id, id)
);

CREATE UNIQUE INDEX teamscim_groups_display_name ON teamscim_groups (team_id, display_name_key);

-- One row per membership: adding or removing members costs O(changes). user_id is not a
-- foreign key: the root package checks the users, the store does not.
CREATE TABLE teamscim_members (
    team_id  text COLLATE "C" NOT NULL,
    group_id text COLLATE "C" NOT NULL,
    user_id  text COLLATE "C" NOT NULL,
    PRIMARY KEY (team_id, group_id, user_id),
    FOREIGN KEY (team_id, group_id) REFERENCES teamscim_groups (team_id, id) ON DELETE CASCADE
);

CREATE INDEX teamscim_members_user ON teamscim_members (team_id, user_id, group_id);

CREATE TABLE teamscim_overages (
    team_id  text COLLATE "C" NOT NULL REFERENCES teamscim_teams (id),
    id       text COLLATE "C" NOT NULL,
    user_id  text NOT NULL,
    policy   text NOT NULL,
    added    timestamptz,
    released timestamptz,
    PRIMARY KEY (team_id, id)
);

CREATE TABLE teamscim_jobs (
    team_id      text COLLATE "C" NOT NULL REFERENCES teamscim_teams (id),
    id           text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    kind         text NOT NULL,
    data         bytea NOT NULL,
    attempts     bigint NOT NULL,
    last_error   text NOT NULL,
    created      timestamptz,
    next_attempt timestamptz,
    PRIMARY KEY (team_id, id)
);

CREATE INDEX teamscim_jobs_user ON teamscim_jobs (team_id, user_id, id);
