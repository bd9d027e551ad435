"""Local accounts of the operator console: users, roles, passwords, sessions and API tokens."""
