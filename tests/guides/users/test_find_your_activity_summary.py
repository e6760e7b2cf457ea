"""users/find-your-activity-summary: GET /users/me for the id, then its activity."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_find_your_activity_summary(guide: Guide) -> None:
    where = guide.workspace()

    # With a personal access token (the guide's curl calls; the SDK speaks the same).
    me = guide.c.users.get_user_me()
    assert me.status == 200
    activity = guide.c.users.get_user_activity(me.data.id)
    assert activity.status == 200
    assert where.project.id in [p.id for p in activity.data.projects]
    assert where.env.id in [e.id for e in activity.data.environments]
