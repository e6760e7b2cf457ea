"""pipelines/steps/add-step: ADD PIPELINE STEP; it shows in the pipeline's steps."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_add_step(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    pipeline = next(
        p for p in guide.c.pipelines.list_pipelines_by_resource_type(
            application.id, "application").data if p.operation == "deploy"
    )
    before = len(guide.c.pipelines.get_pipeline(pipeline.id).data.steps)

    added = guide.c.pipelines.add_pipeline_step(pipeline.id, {
        "name": "Run tests", "command": "make test-suite", "runner": "custom",
    })
    assert added.status == 201
    steps = guide.c.pipelines.get_pipeline(pipeline.id).data.steps
    assert len(steps) == before + 1
    assert added.data.id in [s.id for s in steps]
