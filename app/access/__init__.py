"""Who the caller is (`auth`) and what they may do (`permissions`).

Above the tenancy models it reads (users, tokens, roles, organizations, projects,
environments, teams) and below every router and service that asks it.
"""
