"""pipelines/edit-pipeline: EDIT the name and max parallel actions."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_edit_pipeline(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    pipeline = guide.c.pipelines.add_pipeline(application.id, "application", {
        "name": "CI Pipeline", "operation": "deploy", "max_parallel_actions": 1,
    }).data

    edited = guide.c.pipelines.update_pipeline(pipeline.id, {
        "id": pipeline.id, "name": "CD Pipeline", "max_parallel_actions": 3,
    })
    assert edited.status == 204
    shown = guide.c.pipelines.get_pipeline(pipeline.id).data
    assert (shown.name, shown.max_parallel_actions) == ("CD Pipeline", 3)
