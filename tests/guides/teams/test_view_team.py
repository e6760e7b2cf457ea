"""teams/view-team: its current members and invitation activity."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_view_team(guide: Guide) -> None:
    org = guide.organization()
    team = guide.team(org.id)
    member = guide.member(team.id)
    pending = guide.invitations.add_team_invitation(
        team.id, {"type": "private", "email": "pending@guides.example"}
    ).data

    shown = guide.c.teams.get_team(team.id)
    assert shown.status == 200
    assert shown.data.name == team.name
    members = guide.c.teams.members.list_team_members(team.id).data
    me = member.c.users.get_user_me().data
    assert me.id in [m.user.id for m in members]
    invitations = guide.invitations.list_team_invitations(team.id).data
    assert pending.id in [i.id for i in invitations]
