#!/usr/bin/env bash
# postgres image, first start only (an empty data volume): create the owner and the service
# logins of service-roles.psql with the passwords compose passes in. Changing a password later
# takes `ALTER ROLE` (or running that file again), since this never runs twice.
# No `set -u` here: the entrypoint sources a script that lacks the executable bit, and its own
# shell must stay as it is. psql stops on the first error (ON_ERROR_STOP) and its status is ours.
psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  -v db="$POSTGRES_DB" \
  -v owner_password="$DB_OWNER_PASSWORD" \
  -v api_password="$DB_API_PASSWORD" \
  -v scheduler_password="$DB_SCHEDULER_PASSWORD" \
  -v relay_password="$DB_RELAY_PASSWORD" \
  -v mailer_password="$DB_MAILER_PASSWORD" \
  -f /docker-entrypoint-initdb.d/service-roles.psql
