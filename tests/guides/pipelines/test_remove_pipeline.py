"""pipelines/remove-pipeline: REMOVE PIPELINE; it is gone from the list."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_remove_pipeline(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    pipeline = guide.c.pipelines.add_pipeline(application.id, "application", {
        "name": "CI Pipeline", "operation": "deploy", "max_parallel_actions": 1,
    }).data

    removed = guide.c.pipelines.delete_pipeline(pipeline.id)
    assert removed.status == 204
    listed = guide.c.pipelines.list_pipelines_by_resource_type(application.id, "application")
    assert pipeline.id not in [p.id for p in listed.data]
