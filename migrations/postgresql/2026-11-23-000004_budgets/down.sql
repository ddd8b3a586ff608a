DROP TABLE merchant_month_subsidy;
DROP TABLE budget_envelopes;
DROP TABLE budgets;
