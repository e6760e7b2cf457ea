"""What environment resources (servers, applications, services, daemons, cron jobs, SSL
certificates, virtual hosts, network rules, SSH keys, variables) share.

- models.py: the `EnvironmentResource` columns (environment, project, creator) and the
  `resource_servers` link table: which servers each resource runs on.
- links.py: `servers_for(session, resource_type, resource_id)`, the servers an operation
  on a resource targets (a server targets itself, an SSL certificate its virtual host's
  servers).
- operations.py: `start_operation(...)`, the one place operation endpoints start actions.
- engine_adapters.py: target/scope resolvers and the server access source, shaped for the
  action engine's registries.
- access.py: `EnvironmentAccess`, the one tenant-scoped, permission-checked lookup for
  what a URL names and for every id a request body names (`reference`, `credential`).
- repository.py, service.py, router.py, schemas.py, relations.py, fields.py,
  validators.py: authorization, SQL, rules, HTTP helpers and shapes shared by the
  resource packages.
"""
