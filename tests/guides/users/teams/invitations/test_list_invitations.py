"""users/teams/invitations/list-invitations: received invitations, accepted or declined."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_received_invitations(guide: Guide) -> None:
    org = guide.organization()
    backend, ops = guide.team(org.id), guide.team(org.id)
    email, token = guide.user()
    first = guide.invitations.add_team_invitation(
        backend.id, {"type": "private", "email": email}
    ).data
    second = guide.invitations.add_team_invitation(ops.id, {"type": "private", "email": email}).data
    me = guide.as_other(token)

    # You can see the invitations you have received ...
    received = me.invitations.list_user_team_invitations()
    assert received.status == 200
    assert sorted(i.id for i in received.data) == sorted([first.id, second.id])
    assert {i.team.id for i in received.data} == {backend.id, ops.id}
    assert {i.organization.id for i in received.data} == {org.id}

    # ... accept one, decline the other.
    assert me.invitations.accept_team_invitation(first.id).status == 204
    assert me.invitations.reject_team_invitation(second.id).status == 204

    me_user = me.c.users.get_user_me().data
    members = guide.c.teams.members
    assert me_user.id in [m.user.id for m in members.list_team_members(backend.id).data]
    assert me_user.id not in [m.user.id for m in members.list_team_members(ops.id).data]

    # After accepting, you have access to that organization.
    assert org.id in [o.id for o in me.c.organizations.list_organizations().data]
