"""pipelines/add-pipeline: a name, an operation, max parallel actions, on an application."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_add_pipeline(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)

    added = guide.c.pipelines.add_pipeline(application.id, "application", {
        "name": "CI Pipeline", "operation": "deploy", "max_parallel_actions": 1,
    })
    assert added.status == 201
    pipeline = added.data
    assert (pipeline.name, pipeline.operation, pipeline.max_parallel_actions) == (
        "CI Pipeline", "deploy", 1
    )
    assert (pipeline.resource_type, pipeline.resource_id) == ("application", application.id)
    listed = guide.c.pipelines.list_pipelines_by_resource_type(application.id, "application")
    assert pipeline.id in [p.id for p in listed.data]
