"""The rules about people (R-01, R-10..R-12, R-50, R-51, R-81): accounts, roles, logbooks.

Plain Python over the SQLite index, used by the CLI and the web alike, so that every rule is
enforced in one place below both.
"""
