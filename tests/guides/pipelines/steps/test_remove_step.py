"""pipelines/steps/remove-step: REMOVE; the step is gone from the list."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_remove_step(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    pipeline = next(
        p for p in guide.c.pipelines.list_pipelines_by_resource_type(
            application.id, "application").data if p.operation == "deploy"
    )
    added = guide.c.pipelines.add_pipeline_step(pipeline.id, {
        "name": "Run tests", "command": "make test-suite", "runner": "custom",
    }).data

    removed = guide.c.pipelines.unlink_step_from_pipeline(pipeline.id, added.id)
    assert removed.status == 204
    assert added.id not in [s.id for s in guide.c.pipelines.get_pipeline(pipeline.id).data.steps]
