#!/bin/sh
# Runs once, on the first start of an empty data volume (postgres' docker-entrypoint-initdb.d contract).
# Temporal's auto-setup creates its own two databases (temporal, temporal_visibility); MLflow's must exist before
# `mlflow server` connects, because MLflow migrates tables but never creates the database itself.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
SELECT 'CREATE DATABASE mlflow' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\gexec
SQL
