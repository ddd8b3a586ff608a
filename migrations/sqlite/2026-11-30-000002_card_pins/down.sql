DROP TABLE card_pins;
