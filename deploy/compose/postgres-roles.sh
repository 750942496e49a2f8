#!/bin/sh
# The owner role (owns the database, runs migrations, may create databases) and the application role (reads and
# writes the owner's tables, nothing else) with the passwords of the secrets folder, mounted as compose secrets.
# Passwords reach psql through its environment and standard input, never a command line.
set -eu
PGPASSWORD="$(cat /run/secrets/postgres_superuser_password)"
export PGPASSWORD
owner_password="$(cat /run/secrets/postgres_owner_password)"
app_password="$(cat /run/secrets/postgres_password)"

psql -v ON_ERROR_STOP=1 -h postgres -U postgres -d postgres <<SQL
SELECT format('CREATE ROLE %I', '${OWNER_ROLE}') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${OWNER_ROLE}')\gexec
SELECT format('CREATE ROLE %I', '${APP_ROLE}') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}')\gexec
ALTER ROLE "${OWNER_ROLE}" WITH LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${owner_password}';
ALTER ROLE "${APP_ROLE}" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${app_password}';
SELECT format('CREATE DATABASE %I OWNER %I', '${DATABASE}', '${OWNER_ROLE}')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${DATABASE}')\gexec
ALTER DATABASE "${DATABASE}" OWNER TO "${OWNER_ROLE}";
REVOKE CONNECT, TEMPORARY ON DATABASE "${DATABASE}" FROM PUBLIC;
GRANT CONNECT ON DATABASE "${DATABASE}" TO "${APP_ROLE}";
\connect "${DATABASE}"
ALTER SCHEMA public OWNER TO "${OWNER_ROLE}";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO "${APP_ROLE}";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "${APP_ROLE}";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "${APP_ROLE}";
ALTER DEFAULT PRIVILEGES FOR ROLE "${OWNER_ROLE}" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "${APP_ROLE}";
ALTER DEFAULT PRIVILEGES FOR ROLE "${OWNER_ROLE}" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "${APP_ROLE}";
SQL
