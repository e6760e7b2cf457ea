"""teams/invitations/list-invitations: e-mail, type, status, who invited, expiry."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_invitations(guide: Guide) -> None:
    org = guide.organization()
    team = guide.team(org.id)
    accepted_by = guide.member(team.id)
    pending = guide.invitations.add_team_invitation(
        team.id, {"type": "private", "email": "later@guides.example"}
    ).data
    public = guide.invitations.add_team_invitation(team.id, {"type": "public"}).data

    listed = guide.invitations.list_team_invitations(team.id)
    assert listed.status == 200
    by_id = {i.id: i for i in listed.data}
    assert len(by_id) == 3
    me = guide.c.users.get_user_me().data
    for invitation in by_id.values():
        assert invitation.created_by_user.id == me.id
        assert invitation.created_at and invitation.expires_at
    assert (by_id[pending.id].email, by_id[pending.id].type, by_id[pending.id].status) == (
        "later@guides.example", "private", "pending"
    )
    assert by_id[public.id].type == "public"
    accepted_email = accepted_by.c.users.get_user_me().data.email
    accepted = [i for i in by_id.values() if i.email == accepted_email]
    assert [i.status for i in accepted] == ["accepted"]
