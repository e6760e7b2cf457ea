"""pipelines/steps/view-step: the step's action, order and configuration.

SDK 2.8 has no operation that reads one step: its details come with the pipeline.
"""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_view_step(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    pipeline = next(
        p for p in guide.c.pipelines.list_pipelines_by_resource_type(
            application.id, "application").data if p.operation == "deploy"
    )
    added = guide.c.pipelines.add_pipeline_step(pipeline.id, {
        "name": "Run tests", "command": "make test-suite", "runner": "custom",
    }).data

    step = next(s for s in guide.c.pipelines.get_pipeline(pipeline.id).data.steps
                if s.id == added.id)
    assert (step.name, step.command, step.runner) == ("Run tests", "make test-suite", "custom")
    assert step.trigger_order is not None
