"""The action engine: runs one action's steps on its targets, in stages a module each.

`executor.run_action` is the entry point (a Celery task, the in-process runner and
`python -m workers.engine` call it): `claim` takes the action and keeps its heartbeat,
`plans` reads what each target needs, `target_run` runs each target (its server slot from
`slots`, the connection from `ssh_session`, each step through `step_runners`, whose
processes `remote_process` marks and stops), `outcomes` and `writer` record the results,
`logs` stores the output, `finish` closes the action; `reaper` fails what nobody runs.
The engine depends on the actions data layer (models, repository, built-ins), never on
the actions service, FastAPI or Celery.
"""
