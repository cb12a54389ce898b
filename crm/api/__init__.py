"""What every API app shares: authentication and signatures, errors, throttling, schema."""
