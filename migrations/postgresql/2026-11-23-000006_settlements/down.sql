DROP TABLE job_locks;
DROP TABLE settlement_lines;
DROP TABLE settlements;
