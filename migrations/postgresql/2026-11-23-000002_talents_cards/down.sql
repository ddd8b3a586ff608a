DROP TABLE code_guess_throttle;
DROP TABLE cards;
DROP TABLE talents;
