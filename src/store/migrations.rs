//! The schema, one migration per change; never edit a migration that has shipped.

use rusqlite_migration::{M, Migrations};

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
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
