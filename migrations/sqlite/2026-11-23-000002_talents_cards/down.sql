DROP TABLE cards;
DROP TABLE talents;
