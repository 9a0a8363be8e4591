//! The schema, one migration per change, in SQLite's dialect and in PostgreSQL's: one
//! numbered history for both. Never edit a migration that has shipped.

use std::path::{Path, PathBuf};

use rusqlite_migration::{M, Migrations};

use super::StoreError;
use super::db::{Conn, params};

pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            r#"
        CREATE TABLE clusters (
            id           TEXT PRIMARY KEY,
            tenant       TEXT NOT NULL,
            name         TEXT NOT NULL,
            provider     TEXT NOT NULL,
            state        TEXT NOT NULL,
            state_reason TEXT NOT NULL DEFAULT '',
            spec         TEXT NOT NULL,
            outputs      TEXT NOT NULL DEFAULT '{}',
            key_name     TEXT NOT NULL,
            public_key   TEXT NOT NULL,
            private_key  TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        );
        CREATE INDEX clusters_by_tenant ON clusters (tenant, state);
        -- A name is unique among a tenant's clusters that still exist.
        CREATE UNIQUE INDEX clusters_live_name ON clusters (tenant, name) WHERE state <> 'deleted';

        CREATE TABLE transitions (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster_id  TEXT NOT NULL REFERENCES clusters (id),
            from_state  TEXT,
            to_state    TEXT NOT NULL,
            reason      TEXT NOT NULL,
            at          TEXT NOT NULL
        );
        CREATE INDEX transitions_by_cluster ON transitions (cluster_id, id);

        CREATE TABLE jobs (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster_id  TEXT NOT NULL REFERENCES clusters (id),
            kind        TEXT NOT NULL CHECK (kind IN ('deploy', 'delete')),
            status      TEXT NOT NULL CHECK (status IN ('queued', 'done', 'failed', 'cancelled')),
            attempts    INTEGER NOT NULL DEFAULT 0,
            run_after   TEXT NOT NULL,
            last_error  TEXT NOT NULL DEFAULT '',
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        CREATE INDEX jobs_queued ON jobs (status, run_after);
        "#,
        ),
        // The plan a cluster was resolved to at create: what it deploys, whatever the
        // catalogue becomes later.
        M::up("ALTER TABLE clusters ADD COLUMN plan TEXT NOT NULL DEFAULT '';"),
        // How DISCO may act for the cluster's owner later (a Keystone trust id): never a
        // password.
        M::up("ALTER TABLE clusters ADD COLUMN delegation TEXT NOT NULL DEFAULT '{}';"),
        // What the nodes report of their stages, and the token each cluster's nodes
        // report with (valid for that cluster only, and refused once it is deleted).
        M::up(
            r#"
        CREATE TABLE report_tokens (
            cluster_id  TEXT PRIMARY KEY REFERENCES clusters (id),
            token       TEXT NOT NULL
        );
        CREATE TABLE reports (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster_id  TEXT NOT NULL REFERENCES clusters (id),
            at          TEXT NOT NULL,
            node        TEXT NOT NULL,
            stage       TEXT NOT NULL,
            status      TEXT NOT NULL CHECK (status IN ('executing', 'succeeded', 'failed')),
            rc          INTEGER,
            output      TEXT NOT NULL DEFAULT '',
            error       TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX reports_of_cluster ON reports (cluster_id, id);
        "#,
        ),
        // Jobs that operate a running cluster: stop, start, scale. SQLite
        // cannot change a CHECK constraint in place: the table is made anew and every
        // row copied, ids (and so their order) kept.
        M::up(
            r#"
        CREATE TABLE jobs_new (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster_id  TEXT NOT NULL REFERENCES clusters (id),
            kind        TEXT NOT NULL CHECK (kind IN ('deploy', 'delete', 'stop', 'start', 'scale')),
            status      TEXT NOT NULL CHECK (status IN ('queued', 'done', 'failed', 'cancelled')),
            attempts    INTEGER NOT NULL DEFAULT 0,
            run_after   TEXT NOT NULL,
            last_error  TEXT NOT NULL DEFAULT '',
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        INSERT INTO jobs_new (id, cluster_id, kind, status, attempts, run_after, last_error, created_at, updated_at)
            SELECT id, cluster_id, kind, status, attempts, run_after, last_error, created_at, updated_at FROM jobs;
        DROP TABLE jobs;
        ALTER TABLE jobs_new RENAME TO jobs;
        CREATE INDEX jobs_queued ON jobs (status, run_after);
        -- The move into scaling records the resize it begins: from and to slaves.
        ALTER TABLE transitions ADD COLUMN resize_from INTEGER;
        ALTER TABLE transitions ADD COLUMN resize_to INTEGER;
        "#,
        ),
        // Health apart from the lifecycle state, the nodes' heartbeats it is made from on
        // VMs, and the repair job (the jobs table made anew again for its CHECK).
        M::up(
            r#"
        ALTER TABLE clusters ADD COLUMN health TEXT NOT NULL DEFAULT '';
        -- The move into repairing records what it starts again, by node (JSON).
        ALTER TABLE transitions ADD COLUMN repair TEXT;
        CREATE TABLE heartbeats (
            cluster_id  TEXT NOT NULL REFERENCES clusters (id),
            node        TEXT NOT NULL,
            at          TEXT NOT NULL,
            checks      TEXT NOT NULL,
            PRIMARY KEY (cluster_id, node)
        );
        CREATE TABLE jobs_new (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster_id  TEXT NOT NULL REFERENCES clusters (id),
            kind        TEXT NOT NULL CHECK (kind IN ('deploy', 'delete', 'stop', 'start', 'scale', 'repair')),
            status      TEXT NOT NULL CHECK (status IN ('queued', 'done', 'failed', 'cancelled')),
            attempts    INTEGER NOT NULL DEFAULT 0,
            run_after   TEXT NOT NULL,
            last_error  TEXT NOT NULL DEFAULT '',
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        INSERT INTO jobs_new (id, cluster_id, kind, status, attempts, run_after, last_error, created_at, updated_at)
            SELECT id, cluster_id, kind, status, attempts, run_after, last_error, created_at, updated_at FROM jobs;
        DROP TABLE jobs;
        ALTER TABLE jobs_new RENAME TO jobs;
        CREATE INDEX jobs_queued ON jobs (status, run_after);
        "#,
        ),
        // Whether a ready cluster is in use, for its idle expiry (JSON; '' before a look).
        M::up("ALTER TABLE clusters ADD COLUMN activity TEXT NOT NULL DEFAULT '';"),
        // What each step that finished took, for how long the steps of later runs are
        // expected to take: written with the move that ends a run, the latest
        // `tasks::eta::RUNS_KEPT` of each key kept. A component's step has its
        // component and phase; a node stage (creating the nodes) an empty component and
        // its leaf's kind. Flavor and image are empty where the provider has none.
        M::up(
            r#"
        CREATE TABLE stage_durations (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster_id  TEXT NOT NULL REFERENCES clusters (id),
            provider    TEXT NOT NULL,
            component   TEXT NOT NULL,
            phase       TEXT NOT NULL,
            node_group  TEXT NOT NULL CHECK (node_group IN ('master', 'slaves')),
            flavor      TEXT NOT NULL,
            image       TEXT NOT NULL,
            seconds     REAL NOT NULL CHECK (seconds >= 0),
            at          TEXT NOT NULL
        );
        CREATE INDEX stage_durations_by_key
            ON stage_durations (provider, component, phase, node_group, flavor, image, at);
        "#,
        ),
        // Each tenant's cluster templates (the operator's are files): the attributes a
        // template fixes as a JSON object of name to value.
        M::up(
            r#"
        CREATE TABLE templates (
            tenant      TEXT NOT NULL,
            name        TEXT NOT NULL,
            description TEXT NOT NULL,
            attributes  TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (tenant, name)
        );
        "#,
        ),
        // Which clusters a cluster uses (`icclab.disco.uses`): a delete finds a used
        // cluster's dependents by the index.
        M::up(
            r#"
        CREATE TABLE uses (
            cluster_id  TEXT NOT NULL REFERENCES clusters (id),
            used_id     TEXT NOT NULL REFERENCES clusters (id),
            PRIMARY KEY (cluster_id, used_id)
        );
        CREATE INDEX uses_by_used ON uses (used_id);
        "#,
        ),
        // A listing pages through a tenant's clusters in creation order: each page
        // starts at its marker in this index instead of sorting the tenant's clusters.
        M::up(
            r#"
        CREATE INDEX clusters_listing ON clusters (tenant, created_at, id);
        "#,
        ),
        // Replicas: the replica running a job holds it under a lease it renews
        // (`lease_owner` until `lease_until`; an ended job keeps the name of the one
        // that ran it), and a local cluster's processes run on one machine (`host`).
        // A claim looks for a cluster's other jobs by the index.
        M::up(
            r#"
        ALTER TABLE jobs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
        ALTER TABLE jobs ADD COLUMN lease_until TEXT NOT NULL DEFAULT '';
        ALTER TABLE clusters ADD COLUMN host TEXT NOT NULL DEFAULT '';
        CREATE INDEX jobs_by_cluster ON jobs (cluster_id, status);
        "#,
        ),
        // Dashboard sign-in sessions, shared by the replicas: found by a hash of the
        // browser's session id, the Keystone token sealed with a key derived from that
        // id, which only the browser holds (api::dashboard::session).
        M::up(
            r#"
        CREATE TABLE dashboard_sessions (
            id_hash      TEXT PRIMARY KEY,
            user_name    TEXT NOT NULL,
            sealed_token TEXT NOT NULL,
            expires_at   TEXT NOT NULL DEFAULT '',
            created_at   TEXT NOT NULL
        );
        "#,
        ),
        // When a job last asked its provider for a change the provider takes
        // asynchronously (a Heat stack update, suspend or resume): an attempt after a
        // crash gives an ask that may have been in flight time to show before asking
        // again, so that Heat is not asked twice.
        M::up("ALTER TABLE jobs ADD COLUMN asked_at TEXT NOT NULL DEFAULT '';"),
    ])
}

/// The same steps for PostgreSQL, one for one with `migrations()` (step N here is
/// SQLite's step N): what SQLite's dialect says differently said in PostgreSQL's.
/// Integers are `BIGINT`, SQLite's `AUTOINCREMENT` an identity column (by default, so
/// `migrate-store` can copy ids), a `CHECK` that SQLite rebuilt its table to change is
/// replaced in place, and text compares byte by byte (`COLLATE "C"`) as in SQLite, for
/// the orders and markers that are read from it.
const POSTGRES: &[&str] = &[
    r#"
    CREATE TABLE clusters (
        id           TEXT COLLATE "C" PRIMARY KEY,
        tenant       TEXT COLLATE "C" NOT NULL,
        name         TEXT COLLATE "C" NOT NULL,
        provider     TEXT COLLATE "C" NOT NULL,
        state        TEXT COLLATE "C" NOT NULL,
        state_reason TEXT NOT NULL DEFAULT '',
        spec         TEXT NOT NULL,
        outputs      TEXT NOT NULL DEFAULT '{}',
        key_name     TEXT NOT NULL,
        public_key   TEXT NOT NULL,
        private_key  TEXT NOT NULL,
        created_at   TEXT COLLATE "C" NOT NULL,
        updated_at   TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX clusters_by_tenant ON clusters (tenant, state);
    CREATE UNIQUE INDEX clusters_live_name ON clusters (tenant, name) WHERE state <> 'deleted';

    CREATE TABLE transitions (
        id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        cluster_id  TEXT COLLATE "C" NOT NULL REFERENCES clusters (id),
        from_state  TEXT COLLATE "C",
        to_state    TEXT COLLATE "C" NOT NULL,
        reason      TEXT NOT NULL,
        at          TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX transitions_by_cluster ON transitions (cluster_id, id);

    CREATE TABLE jobs (
        id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        cluster_id  TEXT COLLATE "C" NOT NULL REFERENCES clusters (id),
        kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('deploy', 'delete')),
        status      TEXT COLLATE "C" NOT NULL CHECK (status IN ('queued', 'done', 'failed', 'cancelled')),
        attempts    BIGINT NOT NULL DEFAULT 0,
        run_after   TEXT COLLATE "C" NOT NULL,
        last_error  TEXT NOT NULL DEFAULT '',
        created_at  TEXT COLLATE "C" NOT NULL,
        updated_at  TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX jobs_queued ON jobs (status, run_after);
    "#,
    "ALTER TABLE clusters ADD COLUMN plan TEXT NOT NULL DEFAULT '';",
    "ALTER TABLE clusters ADD COLUMN delegation TEXT NOT NULL DEFAULT '{}';",
    r#"
    CREATE TABLE report_tokens (
        cluster_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES clusters (id),
        token       TEXT NOT NULL
    );
    CREATE TABLE reports (
        id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        cluster_id  TEXT COLLATE "C" NOT NULL REFERENCES clusters (id),
        at          TEXT COLLATE "C" NOT NULL,
        node        TEXT COLLATE "C" NOT NULL,
        stage       TEXT COLLATE "C" NOT NULL,
        status      TEXT COLLATE "C" NOT NULL CHECK (status IN ('executing', 'succeeded', 'failed')),
        rc          BIGINT,
        output      TEXT NOT NULL DEFAULT '',
        error       TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX reports_of_cluster ON reports (cluster_id, id);
    "#,
    r#"
    ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
    ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
        CHECK (kind IN ('deploy', 'delete', 'stop', 'start', 'scale'));
    ALTER TABLE transitions ADD COLUMN resize_from BIGINT;
    ALTER TABLE transitions ADD COLUMN resize_to BIGINT;
    "#,
    r#"
    ALTER TABLE clusters ADD COLUMN health TEXT NOT NULL DEFAULT '';
    ALTER TABLE transitions ADD COLUMN repair TEXT;
    CREATE TABLE heartbeats (
        cluster_id  TEXT COLLATE "C" NOT NULL REFERENCES clusters (id),
        node        TEXT COLLATE "C" NOT NULL,
        at          TEXT COLLATE "C" NOT NULL,
        checks      TEXT NOT NULL,
        PRIMARY KEY (cluster_id, node)
    );
    ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
    ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
        CHECK (kind IN ('deploy', 'delete', 'stop', 'start', 'scale', 'repair'));
    "#,
    "ALTER TABLE clusters ADD COLUMN activity TEXT NOT NULL DEFAULT '';",
    r#"
    CREATE TABLE stage_durations (
        id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        cluster_id  TEXT COLLATE "C" NOT NULL REFERENCES clusters (id),
        provider    TEXT COLLATE "C" NOT NULL,
        component   TEXT COLLATE "C" NOT NULL,
        phase       TEXT COLLATE "C" NOT NULL,
        node_group  TEXT COLLATE "C" NOT NULL CHECK (node_group IN ('master', 'slaves')),
        flavor      TEXT COLLATE "C" NOT NULL,
        image       TEXT COLLATE "C" NOT NULL,
        seconds     DOUBLE PRECISION NOT NULL CHECK (seconds >= 0),
        at          TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX stage_durations_by_key
        ON stage_durations (provider, component, phase, node_group, flavor, image, at);
    "#,
    r#"
    CREATE TABLE templates (
        tenant      TEXT COLLATE "C" NOT NULL,
        name        TEXT COLLATE "C" NOT NULL,
        description TEXT NOT NULL,
        attributes  TEXT NOT NULL,
        created_at  TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (tenant, name)
    );
    "#,
    r#"
    CREATE TABLE uses (
        cluster_id  TEXT COLLATE "C" NOT NULL REFERENCES clusters (id),
        used_id     TEXT COLLATE "C" NOT NULL REFERENCES clusters (id),
        PRIMARY KEY (cluster_id, used_id)
    );
    CREATE INDEX uses_by_used ON uses (used_id);
    "#,
    "CREATE INDEX clusters_listing ON clusters (tenant, created_at, id);",
    r#"
    ALTER TABLE jobs ADD COLUMN lease_owner TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN lease_until TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE clusters ADD COLUMN host TEXT COLLATE "C" NOT NULL DEFAULT '';
    CREATE INDEX jobs_by_cluster ON jobs (cluster_id, status);
    "#,
    r#"
    CREATE TABLE dashboard_sessions (
        id_hash      TEXT COLLATE "C" PRIMARY KEY,
        user_name    TEXT NOT NULL,
        sealed_token TEXT NOT NULL,
        expires_at   TEXT COLLATE "C" NOT NULL DEFAULT '',
        created_at   TEXT COLLATE "C" NOT NULL
    );
    "#,
    r#"ALTER TABLE jobs ADD COLUMN asked_at TEXT COLLATE "C" NOT NULL DEFAULT '';"#,
];

/// Brings a SQLite database up to date: its version is SQLite's own `user_version`, as
/// rusqlite_migration has always kept it.
pub(super) fn to_latest_sqlite(conn: &mut Conn) -> Result<(), StoreError> {
    let Some(sqlite) = conn.as_sqlite() else {
        unreachable!("a SQLite connection");
    };
    migrations().to_latest(sqlite)?;
    Ok(())
}

/// The key of the session advisory lock under which a PostgreSQL database is migrated
/// ("DISCOMIG").
const MIGRATION_LOCK: i64 = 0x4449_5343_4f4d_4947;

/// Brings a PostgreSQL database up to date, each step in its own transaction with the
/// version it reaches (`disco_schema`), under an advisory lock: processes that start
/// together wait for the first to finish and find nothing left to do.
pub(super) fn to_latest_postgres(conn: &Conn) -> Result<(), StoreError> {
    conn.batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let migrated = migrate_postgres(conn);
    let unlocked = conn.batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    migrated.and(unlocked)
}

fn migrate_postgres(conn: &Conn) -> Result<(), StoreError> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS disco_schema (version BIGINT NOT NULL); \
         INSERT INTO disco_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM disco_schema)",
    )?;
    let found: i64 = conn.query_row("SELECT version FROM disco_schema", params![], |row| {
        row.get(0)
    })?;
    let known = POSTGRES.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (step, sql) in POSTGRES.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.batch(sql)?;
        tx.execute(
            "UPDATE disco_schema SET version = ?1",
            params![step as i64 + 1],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// How many steps the history has: the version a store is at once migrated.
#[cfg(test)]
pub(super) fn migrations_count() -> i64 {
    POSTGRES.len() as i64
}

/// The schema version of the store `conn` is to.
#[cfg(test)]
pub(super) fn version(conn: &Conn) -> Result<i64, StoreError> {
    use super::db::Backend;
    match conn.backend() {
        Backend::Sqlite => conn.query_row("PRAGMA user_version", params![], |row| row.get(0)),
        Backend::Postgres => conn.query_row("SELECT version FROM disco_schema", params![], |row| {
            row.get(0)
        }),
    }
}

/// The lock a process holds on a SQLite database while it migrates it: a second
/// process opening it meanwhile waits, then finds it migrated. (SQLite's own lock is
/// taken only once the migration writes, after it read the version it starts from.)
pub(super) struct SqliteLock {
    _file: nix::fcntl::Flock<std::fs::File>,
}

impl SqliteLock {
    pub(super) fn take(database: &Path) -> Result<SqliteLock, StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = PathBuf::from(format!("{}.migrating", database.display()));
        let err = |source| StoreError::DataDir {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(err)?;
        let file = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| err(std::io::Error::from(errno)))?;
        Ok(SqliteLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, params};

    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }

    #[test]
    fn postgres_has_the_same_numbered_steps_as_sqlite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("disco.db")).expect("open");
        super::migrations().to_latest(&mut conn).expect("migrate");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(super::migrations_count(), version);
    }

    /// A database of the schema before stop and start (four migrations), with clusters,
    /// jobs, transitions and reports in it, comes through the rebuild of `jobs` whole.
    #[test]
    fn an_upgrade_from_the_schema_before_stop_and_start_keeps_every_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("disco.db")).expect("open");
        conn.pragma_update(None, "foreign_keys", "ON")
            .expect("pragma");
        super::migrations()
            .to_version(&mut conn, 4)
            .expect("the old schema");
        let t = "2026-01-01T00:00:00.000000Z";
        for (n, id) in ["c1", "c2"].iter().enumerate() {
            conn.execute(
                "INSERT INTO clusters (id, tenant, name, provider, state, spec, key_name, public_key, private_key, created_at, updated_at) \
                 VALUES (?1, 't', ?1, 'local', 'ready', '{}', 'k', 'pub', 'priv', ?2, ?2)",
                params![id, t],
            )
            .expect("cluster");
            conn.execute(
                "INSERT INTO transitions (cluster_id, from_state, to_state, reason, at) VALUES (?1, NULL, 'pending', 'made', ?2)",
                params![id, t],
            )
            .expect("transition");
            conn.execute(
                "INSERT INTO reports (cluster_id, at, node, stage, status, rc) VALUES (?1, ?2, 'master', 'spark install', 'succeeded', 0)",
                params![id, t],
            )
            .expect("report");
            for (kind, status) in [("deploy", "done"), ("delete", "queued")] {
                conn.execute(
                    "INSERT INTO jobs (cluster_id, kind, status, attempts, run_after, last_error, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 'e', ?5, ?5)",
                    params![id, kind, status, n as i64, t],
                )
                .expect("job");
            }
        }
        let jobs = |conn: &Connection| -> Vec<(i64, String, String, String, i64)> {
            let mut stmt = conn
                .prepare("SELECT id, cluster_id, kind, status, attempts FROM jobs ORDER BY id")
                .expect("select");
            stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect()
        };
        let before = jobs(&conn);
        assert_eq!(before.len(), 4);
        // Before: a stop job cannot be stored.
        assert!(conn
            .execute(
                "INSERT INTO jobs (cluster_id, kind, status, run_after, created_at, updated_at) VALUES ('c1', 'stop', 'queued', ?1, ?1, ?1)",
                params![t],
            )
            .is_err());

        super::migrations().to_latest(&mut conn).expect("upgrade");
        assert_eq!(jobs(&conn), before, "every job, with its id");
        let count = |table: &str| -> i64 {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .expect("count")
        };
        assert_eq!(
            (count("clusters"), count("transitions"), count("reports")),
            (2, 2, 2)
        );
        conn.execute(
            "INSERT INTO jobs (cluster_id, kind, status, run_after, created_at, updated_at) VALUES ('c1', 'stop', 'queued', ?1, ?1, ?1)",
            params![t],
        )
        .expect("a stop job");
        let newest: i64 = conn
            .query_row("SELECT MAX(id) FROM jobs", [], |r| r.get(0))
            .expect("max");
        assert_eq!(newest, 5, "ids go on after the copied ones");
        // Still checked: an unknown kind, and a job of no cluster.
        assert!(conn
            .execute(
                "INSERT INTO jobs (cluster_id, kind, status, run_after, created_at, updated_at) VALUES ('c1', 'explode', 'queued', ?1, ?1, ?1)",
                params![t],
            )
            .is_err());
        assert!(conn
            .execute(
                "INSERT INTO jobs (cluster_id, kind, status, run_after, created_at, updated_at) VALUES ('nope', 'stop', 'queued', ?1, ?1, ?1)",
                params![t],
            )
            .is_err());
        let indexed: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'jobs_queued'",
                [],
                |r| r.get(0),
            )
            .expect("index");
        assert_eq!(indexed, 1);
    }

    /// A database of the schema before health (five migrations), with a cluster, its
    /// transitions and jobs, comes through the second rebuild of `jobs` whole, and then
    /// takes repair jobs, health, heartbeats and activity.
    #[test]
    fn an_upgrade_from_the_schema_before_health_keeps_every_row_and_takes_repairs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("disco.db")).expect("open");
        conn.pragma_update(None, "foreign_keys", "ON")
            .expect("pragma");
        super::migrations()
            .to_version(&mut conn, 5)
            .expect("the old schema");
        let t = "2026-01-01T00:00:00.000000Z";
        conn.execute(
            "INSERT INTO clusters (id, tenant, name, provider, state, spec, key_name, public_key, private_key, created_at, updated_at) \
             VALUES ('c1', 't', 'c1', 'local', 'ready', '{}', 'k', 'pub', 'priv', ?1, ?1)",
            params![t],
        )
        .expect("cluster");
        conn.execute(
            "INSERT INTO transitions (cluster_id, from_state, to_state, reason, at, resize_from, resize_to) \
             VALUES ('c1', 'ready', 'scaling', 'scaling from 1 to 2 slaves', ?1, 1, 2)",
            params![t],
        )
        .expect("transition");
        for kind in ["deploy", "scale", "stop"] {
            conn.execute(
                "INSERT INTO jobs (cluster_id, kind, status, attempts, run_after, last_error, created_at, updated_at) \
                 VALUES ('c1', ?1, 'done', 1, ?2, '', ?2, ?2)",
                params![kind, t],
            )
            .expect("job");
        }
        let repair = |conn: &Connection| {
            conn.execute(
                "INSERT INTO jobs (cluster_id, kind, status, run_after, created_at, updated_at) VALUES ('c1', 'repair', 'queued', ?1, ?1, ?1)",
                params![t],
            )
        };
        assert!(repair(&conn).is_err(), "no repair job before");
        super::migrations().to_latest(&mut conn).expect("upgrade");
        let kinds: Vec<(i64, String)> = conn
            .prepare("SELECT id, kind FROM jobs ORDER BY id")
            .expect("select")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (1, "deploy".into()),
                (2, "scale".into()),
                (3, "stop".into())
            ]
        );
        repair(&conn).expect("a repair job");
        let (health, activity, resize): (String, String, i64) = conn
            .query_row(
                "SELECT c.health, c.activity, t.resize_to FROM clusters c JOIN transitions t ON t.cluster_id = c.id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("the row");
        assert_eq!((health.as_str(), activity.as_str(), resize), ("", "", 2));
        conn.execute(
            "INSERT INTO heartbeats (cluster_id, node, at, checks) VALUES ('c1', 'master', ?1, '[]')",
            params![t],
        )
        .expect("a heartbeat");
        assert!(
            conn.execute(
                "INSERT INTO heartbeats (cluster_id, node, at, checks) VALUES ('nope', 'master', ?1, '[]')",
                params![t],
            )
            .is_err(),
            "a heartbeat of no cluster"
        );
    }
}
