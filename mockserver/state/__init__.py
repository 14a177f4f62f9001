"""What the mock remembers: tasks, balances, the journal and deliveries."""
