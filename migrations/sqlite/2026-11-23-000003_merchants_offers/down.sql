DROP TABLE offers;
DROP TABLE merchants;
