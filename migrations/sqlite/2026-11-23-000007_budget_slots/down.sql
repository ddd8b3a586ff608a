DROP TABLE budget_slots;
