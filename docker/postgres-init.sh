#!/bin/sh
# Run once by the postgres image on a fresh data volume (/docker-entrypoint-initdb.d): one
# database and one owning user for MLflow's tracking store, one for Optuna's studies, so
# neither service holds the superuser's password. Names and passwords come from the
# environment (docker-compose.yml); psql's :"name" / :'value' quoting keeps any value inert.
set -eu
create() {  # create DB USER PASSWORD
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
        -v db="$1" -v role="$2" -v pw="$3" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"role";
SQL
}
create "$MLFLOW_DB" "$MLFLOW_DB_USER" "$MLFLOW_DB_PASSWORD"
create "$OPTUNA_DB" "$OPTUNA_DB_USER" "$OPTUNA_DB_PASSWORD"
