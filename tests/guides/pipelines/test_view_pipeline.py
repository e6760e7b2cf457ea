"""pipelines/view-pipeline: operation, max parallel actions and its steps."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_view_pipeline(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    listed = guide.c.pipelines.list_pipelines_by_resource_type(application.id, "application")
    # An application comes with its deploy pipeline.
    deploy = next(p for p in listed.data if p.operation == "deploy")

    shown = guide.c.pipelines.get_pipeline(deploy.id)
    assert shown.status == 200
    assert shown.data.operation == "deploy"
    assert shown.data.max_parallel_actions is not None
    assert shown.data.steps
