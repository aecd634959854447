-- The database that holds the traces tables (skipped for "default", which always exists).
CREATE DATABASE IF NOT EXISTS `$database` $on_cluster
