"""teams/invitations/add-invitation: a private invite by e-mail, or a public link."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide


def test_add_invitation(guide: Guide) -> None:
    org = guide.organization()
    team = guide.team(org.id)

    # Private: one e-mail address.
    email, token = guide.user()
    private = guide.invitations.add_team_invitation(team.id, {"type": "private", "email": email})
    assert private.status == 201
    assert (private.data.type, private.data.email) == ("private", email)
    # The recipient can accept and join the team.
    invitee = guide.as_other(token)
    received = invitee.invitations.list_user_team_invitations().data
    assert [i.id for i in received] == [private.data.id]
    assert invitee.invitations.accept_team_invitation(private.data.id).status == 204

    # Public: a link to share.
    public = guide.invitations.add_team_invitation(team.id, {"type": "public"})
    assert public.status == 201
    assert public.data.type == "public" and public.data.public_accept_url

    # Common issues: the e-mail must be valid for a private invitation.
    with pytest.raises(DevopnessApiError) as bad:
        guide.invitations.add_team_invitation(team.id, {"type": "private", "email": "nobody"})
    assert bad.value.status_code == 422

    # The one who accepted now has access to the organization.
    assert org.id in [o.id for o in invitee.c.organizations.list_organizations().data]
