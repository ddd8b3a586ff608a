DROP TABLE import_letters;
DROP TABLE import_jobs;
