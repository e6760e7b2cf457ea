"""The composition root: the one layer that imports both the API (`app/`) and the
workers (`workers/`), to wire them into processes: the `devopness-server` command line
and the API application with its in-process action runner (the embedded mode)."""
