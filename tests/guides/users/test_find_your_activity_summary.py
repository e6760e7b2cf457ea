"""users/find-your-activity-summary: GET /users/me for the id, then its activity."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_find_your_activity_summary(guide: Guide) -> None:
    # A person with a personal access token (the guide's curl calls; the SDK sends the same).
    _, token = guide.user()
    person = guide.as_other(token)
    where = person.workspace()
    person.environment(where.project.id)

    me = person.c.users.get_user_me()
    assert me.status == 200
    activity = person.c.users.get_user_activity(me.data.id)
    assert activity.status == 200
    assert activity.data.projects.owner_of == 1
    assert activity.data.environments.owner_of == 2
