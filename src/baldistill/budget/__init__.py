"""Teacher spend: the ledger (every call charged, no cap ever crossed) and the reply cache."""
