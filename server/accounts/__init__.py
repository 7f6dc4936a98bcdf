"""Users, roles, passwords, bearer tokens, TOTP and login throttling."""
