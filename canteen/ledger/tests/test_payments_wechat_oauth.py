"""A guardian who opens the parent pages inside WeChat binds their openid once through the
Official Account's OAuth2 web authorization (signed in: their login confirms it); JSAPI
payments then use it."""

import pytest
import requests

from canteen.ledger.payments.models import GuardianWeChatBinding
from canteen.ledger.payments.oauth import BindingRefused, guardian_openid_bind
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db

IN_WECHAT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger/8.0.50"


@pytest.fixture
def oauth(settings, wechat_pay):
    settings.CANTEEN_WECHAT_OPEN_BASE = wechat_pay.server.base_url
    settings.CANTEEN_WECHAT_API_BASE = wechat_pay.server.base_url
    return wechat_pay


def test_a_guardian_in_wechat_binds_their_openid_and_pays_with_jsapi(world, oauth, client):
    guardian = world.user(Role.GUARDIAN)
    child = world.students[0]
    client.force_login(guardian)
    form = client.get(f"/ledger/guardian/{child.pk}/top-up/", headers={"user-agent": IN_WECHAT}).content.decode()
    assert 'data-testid="wechat-bind"' in form
    to_wechat = client.get(f"/ledger/wechat/oauth/{child.pk}/")["Location"]
    assert to_wechat.startswith(f"{oauth.server.base_url}/connect/oauth2/authorize?appid={oauth.server.appid}")
    assert to_wechat.endswith("#wechat_redirect")
    back = requests.get(to_wechat.split("#")[0], allow_redirects=False, timeout=10).headers["Location"]
    response = client.get(back.replace("http://testserver", ""))
    assert response.status_code == 302
    binding = GuardianWeChatBinding.objects.get(user=guardian)
    assert binding.openid == oauth.server.oauth_openid
    # The code is good once: replaying the callback binds nothing more and says so.
    client.get(back.replace("http://testserver", ""))
    assert GuardianWeChatBinding.objects.count() == 1
    # Now the top-up inside WeChat is a JSAPI payment for that openid.
    response = client.post(f"/ledger/guardian/{child.pk}/top-up/", {"amount": "12"}, headers={"user-agent": IN_WECHAT})
    out_trade_no = response["Location"].rstrip("/").split("/")[-1]
    order = oauth.server.orders[out_trade_no]
    assert (order.trade_type, order.payer_openid, order.total) == ("jsapi", oauth.server.oauth_openid, 1_200)
    page = client.get(response["Location"]).content.decode()
    assert 'id="jsapi-params"' in page


def test_an_openid_binds_once_and_to_one_guardian(world, oauth):
    guardian = world.user(Role.GUARDIAN)
    other = world.user(Role.SCHOOL_ADMIN)
    guardian_openid_bind(user=guardian, app_id="wx1", openid="o-1")
    assert guardian_openid_bind(user=guardian, app_id="wx1", openid="o-1").openid == "o-1"
    with pytest.raises(BindingRefused):
        guardian_openid_bind(user=guardian, app_id="wx1", openid="o-2")
    with pytest.raises(BindingRefused):
        guardian_openid_bind(user=other, app_id="wx1", openid="o-1")


def test_a_forged_state_or_code_binds_nothing(world, oauth, client):
    client.force_login(world.user(Role.GUARDIAN))
    client.get(f"/ledger/wechat/oauth/{world.students[0].pk}/")
    client.get("/ledger/wechat/oauth/callback/?code=abc&state=forged")
    session_start = client.get(f"/ledger/wechat/oauth/{world.students[0].pk}/")["Location"]
    state = session_start.split("state=")[1].split("#")[0]
    client.get(f"/ledger/wechat/oauth/callback/?code=never-issued&state={state}")
    assert GuardianWeChatBinding.objects.count() == 0
