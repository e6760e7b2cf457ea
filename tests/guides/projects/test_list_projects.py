"""projects/list-projects: every project you can open, with its organization."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_projects(guide: Guide) -> None:
    org = guide.organization()
    first, second = guide.project(org.id), guide.project(org.id)

    listed = guide.c.projects.list_projects(per_page=100)
    assert listed.status == 200
    in_org = {p.id: p for p in listed.data if p.organization.id == org.id}
    assert set(in_org) == {first.id, second.id}
    assert in_org[first.id].name == first.name

    # Another person sees none of them: "confirm you have access to that project".
    _, token = guide.user()
    stranger = guide.__class__(guide.server, token)
    assert [p.id for p in stranger.c.projects.list_projects().data] == []
