"""Who the caller is (`auth`) and what they may do (`permissions`: the `Authorizer`, on the
permission `catalogue`, the permissions held per scope in `scopes` and the list conditions
in `visibility`).

Above the tenancy models it reads (users, tokens, roles, organizations, projects,
environments, teams) and below every router and service that asks it.
"""
