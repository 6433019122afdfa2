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
        ),
        (
            2,
            "managers: users and roles, API tokens, sessions, door groups, keys, phones, invitations, enrollment tokens",
            """
            CREATE TABLE users (
                org_id text NOT NULL REFERENCES orgs(id),
                id text NOT NULL,
                email text NOT NULL,
                name text NOT NULL,
                role text NOT NULL CHECK (role IN ('admin', 'site_manager', 'viewer', 'holder')),
                sites text[] NOT NULL DEFAULT '{}',
                password_hash text,
                disabled boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (org_id, id)
            );
            CREATE UNIQUE INDEX users_email ON users (org_id, lower(email));
            CREATE TABLE api_tokens (
                id text PRIMARY KEY,
                org_id text NOT NULL,
                user_id text NOT NULL,
                name text NOT NULL,
                hash bytea NOT NULL,
                scope text NOT NULL CHECK (scope IN ('read', 'write')),
                created_at timestamptz NOT NULL DEFAULT now(),
                last_used_at timestamptz,
                revoked_at timestamptz,
                FOREIGN KEY (org_id, user_id) REFERENCES users(org_id, id)
            );
            CREATE TABLE sessions (
                hash bytea PRIMARY KEY,
                org_id text NOT NULL,
                user_id text NOT NULL,
                csrf text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                FOREIGN KEY (org_id, user_id) REFERENCES users(org_id, id)
            );
            CREATE TABLE login_failures (
                email text NOT NULL,
                at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX login_failures_email ON login_failures (lower(email), at);
            CREATE TABLE door_groups (
                org_id text NOT NULL REFERENCES orgs(id),
                id text NOT NULL,
                name text NOT NULL,
                doors text[] NOT NULL DEFAULT '{}',
                PRIMARY KEY (org_id, id)
            );
            CREATE TABLE keys (
                org_id text NOT NULL,
                id text NOT NULL,
                user_id text NOT NULL,
                doors text[] NOT NULL DEFAULT '{}',
                groups text[] NOT NULL DEFAULT '{}',
                not_before timestamptz NOT NULL,
                expires_at timestamptz NOT NULL,
                schedule jsonb,
                extended_time boolean NOT NULL DEFAULT false,
                one_time boolean NOT NULL DEFAULT false,
                status text NOT NULL CHECK (status IN ('active', 'revoked')),
                created_at timestamptz NOT NULL DEFAULT now(),
                revoked_at timestamptz,
                PRIMARY KEY (org_id, id),
                FOREIGN KEY (org_id, user_id) REFERENCES users(org_id, id)
            );
            CREATE INDEX keys_user ON keys (org_id, user_id);
            CREATE TABLE phones (
                org_id text NOT NULL,
                id text NOT NULL,
                user_id text NOT NULL,
                public_key bytea NOT NULL,
                token_hash bytea NOT NULL UNIQUE,
                enrolled_at timestamptz NOT NULL DEFAULT now(),
                last_fetch_at timestamptz,
                PRIMARY KEY (org_id, id),
                FOREIGN KEY (org_id, user_id) REFERENCES users(org_id, id)
            );
            CREATE TABLE invitations (
                hash bytea PRIMARY KEY,
                org_id text NOT NULL,
                user_id text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                used_at timestamptz,
                FOREIGN KEY (org_id, user_id) REFERENCES users(org_id, id)
            );
            CREATE TABLE enrollment_tokens (
                id text PRIMARY KEY,
                hash bytea NOT NULL UNIQUE,
                org_id text NOT NULL,
                site_id text NOT NULL,
                door_id text,
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                used_at timestamptz,
                used_by_device text,
                FOREIGN KEY (org_id, site_id) REFERENCES sites(org_id, id)
            );
            ALTER TABLE devices ADD COLUMN decommissioned_at timestamptz;
            ALTER TABLE alarms ADD COLUMN cleared_at timestamptz;
            CREATE INDEX audit_events_org_at ON audit_events (org_id, at DESC)
            """
        ),
        (
            3, "webhooks, their deliveries and each org's queueing cursor",
            """
            CREATE TABLE webhooks (
                org_id text NOT NULL REFERENCES orgs(id),
                id text NOT NULL,
                url text NOT NULL,
                secret text NOT NULL,
                events text[] NOT NULL,
                format text NOT NULL CHECK (format IN ('warden', 'slack')),
                disabled boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (org_id, id)
            );
            CREATE TABLE webhook_deliveries (
                id bigserial PRIMARY KEY,
                org_id text NOT NULL,
                webhook_id text NOT NULL,
                event text NOT NULL,
                payload text NOT NULL,
                status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
                attempts int NOT NULL DEFAULT 0,
                next_at timestamptz NOT NULL DEFAULT now(),
                last_status int,
                last_error text,
                created_at timestamptz NOT NULL DEFAULT now(),
                delivered_at timestamptz,
                FOREIGN KEY (org_id, webhook_id) REFERENCES webhooks(org_id, id) ON DELETE CASCADE
            );
            CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status IN ('pending', 'sending');
            CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (org_id, webhook_id, id DESC);
            CREATE TABLE webhook_cursors (
                org_id text PRIMARY KEY REFERENCES orgs(id),
                events_at timestamptz NOT NULL DEFAULT now(),
                devices_at timestamptz NOT NULL DEFAULT now()
            )
            """
        ),
        (
            4, "single sign-on: each org's OpenID Connect provider, logins in flight, users' provider subjects",
            """
            CREATE TABLE sso_configs (
                org_id text PRIMARY KEY REFERENCES orgs(id),
                issuer text NOT NULL,
                client_id text NOT NULL,
                client_secret text NOT NULL,
                enforced boolean NOT NULL DEFAULT false,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE sso_requests (
                state_hash bytea PRIMARY KEY,
                org_id text NOT NULL REFERENCES orgs(id),
                browser_hash bytea NOT NULL,
                nonce text NOT NULL,
                verifier text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            ALTER TABLE users ADD COLUMN sso_subject text;
            CREATE UNIQUE INDEX users_sso_subject ON users (org_id, sso_subject) WHERE sso_subject IS NOT NULL
            """
        ),
        (
            5, "lockdown plans: named sets of a site's doors to lock down with one call",
            """
            CREATE TABLE lockdown_plans (
                org_id text NOT NULL,
                site_id text NOT NULL,
                id text NOT NULL,
                name text NOT NULL,
                doors text[] NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (org_id, site_id, id),
                FOREIGN KEY (org_id, site_id) REFERENCES sites(org_id, id)
            )
            """
        ),
        (
            6, "provisioned boards: their certificates (for revocation and rotation), board profile, CRL numbers",
            """
            CREATE TABLE device_certificates (
                serial text PRIMARY KEY,
                org_id text NOT NULL,
                device_id text NOT NULL,
                public_key bytea NOT NULL,
                not_after timestamptz NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                revoked_at timestamptz,
                FOREIGN KEY (org_id, device_id) REFERENCES devices(org_id, id)
            );
            CREATE INDEX device_certificates_device ON device_certificates (device_id);
            ALTER TABLE devices ADD COLUMN board text;
            CREATE SEQUENCE crl_number
            """
        ),
        (
            7, "software rollouts: a version ordered to boards in waves, each board's progress",
            """
            CREATE TABLE rollouts (
                org_id text NOT NULL REFERENCES orgs(id),
                id text NOT NULL,
                version text NOT NULL,
                channel text NOT NULL,
                waves text[] NOT NULL,
                max_failures integer NOT NULL,
                wave integer NOT NULL DEFAULT 0,
                state text NOT NULL DEFAULT 'running',
                reason text,
                created_by text,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (org_id, id)
            );
            CREATE INDEX rollouts_running ON rollouts (org_id) WHERE state = 'running';
            CREATE TABLE rollout_devices (
                org_id text NOT NULL,
                rollout_id text NOT NULL,
                device_id text NOT NULL,
                wave integer NOT NULL,
                state text NOT NULL DEFAULT 'pending',
                jti text,
                detail text,
                ordered_at timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (org_id, rollout_id, device_id),
                FOREIGN KEY (org_id, rollout_id) REFERENCES rollouts(org_id, id),
                FOREIGN KEY (org_id, device_id) REFERENCES devices(org_id, id)
            )
            """
        ),
        (
            8, "support bundles: a manager's request to a board and the archive it uploads",
            """
            CREATE TABLE support_bundles (
                org_id text NOT NULL,
                id text NOT NULL,
                device_id text NOT NULL,
                token_hash bytea NOT NULL UNIQUE,
                jti text,
                requested_by text NOT NULL,
                requested_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                uploaded_at timestamptz,
                size bigint,
                sha256 text,
                archive bytea,
                PRIMARY KEY (org_id, id),
                FOREIGN KEY (org_id, device_id) REFERENCES devices(org_id, id)
            );
            CREATE INDEX support_bundles_device ON support_bundles (org_id, device_id, requested_at DESC)
            """
        ),
    ]
}
