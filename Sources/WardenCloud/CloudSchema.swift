/// The cloud's PostgreSQL schema as numbered migrations, applied in order by `CloudDatabase.migrate` and recorded in
/// `schema_migrations`. A released migration is never edited: changes are new migrations.
enum CloudSchema {
    static let migrations: [(version: Int, name: String, sql: String)] = [
        (
            1, "orgs, sites, doors, devices, audit (partitioned by month), access lists, commands, alarms",
            """
            CREATE TABLE orgs (
                id text PRIMARY KEY,
                name text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE sites (
                org_id text NOT NULL REFERENCES orgs(id),
                id text NOT NULL,
                name text NOT NULL,
                time_zone text NOT NULL,
                holidays date[] NOT NULL DEFAULT '{}',
                PRIMARY KEY (org_id, id)
            );
            CREATE TABLE doors (
                org_id text NOT NULL,
                id text NOT NULL,
                site_id text NOT NULL,
                name text NOT NULL,
                access_version bigint NOT NULL DEFAULT 1,
                PRIMARY KEY (org_id, id),
                FOREIGN KEY (org_id, site_id) REFERENCES sites(org_id, id)
            );
            CREATE TABLE devices (
                org_id text NOT NULL,
                id text NOT NULL,
                door_id text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                online boolean NOT NULL DEFAULT false,
                boot text,
                last_seen timestamptz,
                state jsonb,
                applied_version bigint,
                audit_seq bigint NOT NULL DEFAULT 0,
                audit_hash bytea,
                chain_flagged boolean NOT NULL DEFAULT false,
                PRIMARY KEY (org_id, id),
                FOREIGN KEY (org_id, door_id) REFERENCES doors(org_id, id)
            );
            CREATE TABLE audit_events (
                org_id text NOT NULL,
                device_id text NOT NULL,
                seq bigint NOT NULL,
                at timestamptz NOT NULL,
                at_ms bigint NOT NULL,
                kind text NOT NULL,
                door_id text,
                credential_id text,
                user_id text,
                reason text,
                detail text,
                prev_hash bytea NOT NULL,
                hash bytea NOT NULL,
                flags text[],
                received_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (org_id, device_id, seq, at)
            ) PARTITION BY RANGE (at);
            CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
            CREATE INDEX audit_events_door_at ON audit_events (org_id, door_id, at DESC);
            CREATE INDEX audit_events_user_at ON audit_events (org_id, user_id, at DESC);
            CREATE TABLE access_entries (
                org_id text NOT NULL,
                door_id text NOT NULL,
                credential_id text NOT NULL,
                user_id text NOT NULL,
                status text NOT NULL CHECK (status IN ('active', 'revoked')),
                changed_version bigint NOT NULL,
                PRIMARY KEY (org_id, door_id, credential_id),
                FOREIGN KEY (org_id, door_id) REFERENCES doors(org_id, id)
            );
            CREATE TABLE access_versions (
                org_id text NOT NULL,
                door_id text NOT NULL,
                ver bigint NOT NULL,
                jws text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (org_id, door_id, ver)
            );
            CREATE TABLE commands (
                jti text PRIMARY KEY,
                org_id text NOT NULL,
                device_id text NOT NULL,
                cmd text NOT NULL,
                jws text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                result_code text,
                result_detail text,
                result_at timestamptz,
                FOREIGN KEY (org_id, device_id) REFERENCES devices(org_id, id)
            );
            CREATE TABLE alarms (
                org_id text NOT NULL,
                device_id text NOT NULL,
                seq bigint NOT NULL,
                at timestamptz NOT NULL,
                kind text NOT NULL,
                reason text,
                detail text,
                PRIMARY KEY (org_id, device_id, seq)
            );
            """
        )
    ]
}
