-- Run once by the postgres image when it initialises an empty volume (compose.yaml):
-- the service's own role, which owns nothing. `talentcard migrate`, running as the
-- owner (POSTGRES_USER), grants it what it needs; see deploy/README.md, "Database roles".
\set app_password `cat /run/secrets/db_app_password`
CREATE ROLE talentcard_app LOGIN NOSUPERUSER PASSWORD :'app_password';
