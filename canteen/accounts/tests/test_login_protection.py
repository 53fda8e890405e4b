"""Signing in under attack: lockout after repeated failures (per account and per address),
API tokens that expire, die with a password change and are listed/revoked by their owner, an
idle session timeout, a password policy, and a second factor for the roles that need one."""

from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_otp.oath import totp

from canteen.accounts import services
from canteen.accounts.middleware import LAST_SEEN_KEY
from canteen.accounts.models import ApiToken
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def _pw(user) -> str:
    return "pw-" + user.username


def _token(api_client, user, **extra):
    return api_client.post("/api/v1/auth/token/", {"username": user.username, "password": _pw(user), **extra})


def _code(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"


# -- lockout ---------------------------------------------------------------------------------------


def test_25_wrong_passwords_on_the_login_page_lock_the_account_even_for_the_right_one(world, client, settings):
    user = world.user(Role.GUARDIAN)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"}, REMOTE_ADDR="198.51.100.1")
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": _pw(user)}, REMOTE_ADDR="198.51.100.1"
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Per account: another address cannot sign in to it either while it is locked.
    other = client.post(
        "/accounts/login/", {"username": user.username, "password": _pw(user)}, REMOTE_ADDR="203.0.113.7"
    )
    assert other.status_code == 429


def test_one_address_guessing_many_accounts_is_locked_out(world, client, settings):
    names = [u.username for u in world.users.values()]
    for name in names[: settings.AXES_FAILURE_LIMIT]:
        client.post("/accounts/login/", {"username": name, "password": "wrong"}, REMOTE_ADDR="198.51.100.2")
    guardian = world.user(Role.GUARDIAN)
    blocked = client.post(
        "/accounts/login/", {"username": guardian.username, "password": _pw(guardian)}, REMOTE_ADDR="198.51.100.2"
    )
    assert blocked.status_code == 429
    # The same account from an address with no failures signs in.
    ok = client.post(
        "/accounts/login/", {"username": guardian.username, "password": _pw(guardian)}, REMOTE_ADDR="203.0.113.9"
    )
    assert ok.status_code == 302


def test_the_lockout_address_is_the_one_our_proxy_saw_not_the_one_the_client_claims(world, client, settings):
    settings.CANTEEN_TRUSTED_PROXIES = ["10.0.0.0/8"]
    names = [u.username for u in world.users.values()]
    for i, name in enumerate(names[: settings.AXES_FAILURE_LIMIT]):
        client.post(
            "/accounts/login/",
            {"username": name, "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 198.51.100.3",  # a new fake address every time
        )
    guardian = world.user(Role.GUARDIAN)
    blocked = client.post(
        "/accounts/login/",
        {"username": guardian.username, "password": _pw(guardian)},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.3",
    )
    assert blocked.status_code == 429


def test_wrong_passwords_on_the_token_api_lock_it_too(world, api_client, settings):
    user = world.user(Role.GUARDIAN)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        wrong = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"})
        assert wrong.status_code in (400, 429)
    locked = _token(api_client, user)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked_out"
    assert not ApiToken.objects.exists()


# -- API tokens ------------------------------------------------------------------------------------


def test_a_token_works_until_it_expires(world, api_client):
    user = world.user(Role.GUARDIAN)
    issued = _token(api_client, user)
    assert issued.status_code == 201
    key = issued.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/org/me/").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_client.get("/api/v1/org/me/").status_code in (401, 403)


def test_a_password_change_revokes_every_token(world, api_client):
    user = world.user(Role.GUARDIAN)
    key = _token(api_client, user).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/org/me/").status_code == 200
    user.set_password("a-new-long-passphrase-2026")
    user.save()
    assert api_client.get("/api/v1/org/me/").status_code in (401, 403)
    assert ApiToken.objects.get().revoked_reason == "password_changed"


def test_a_login_that_rehashes_the_password_keeps_the_tokens(world):
    user = world.user(Role.GUARDIAN)
    token, _key = services.token_issue(user=user)
    user.save()  # an ordinary save (no new password) changes nothing
    token.refresh_from_db()
    assert token.revoked_at is None


def test_owners_list_and_revoke_their_own_tokens_only(world, api_client):
    owner, other = world.user(Role.GUARDIAN), world.user(Role.SUPPLIER_USER)
    first, first_key = services.token_issue(user=owner, name="脚本")
    theirs, _ = services.token_issue(user=other)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {first_key}")
    listed = api_client.get("/api/v1/auth/tokens/").json()
    assert [row["id"] for row in listed] == [str(first.pk)]
    assert "token" not in listed[0]
    assert "key_hash" not in listed[0]
    assert api_client.post(f"/api/v1/auth/tokens/{theirs.pk}/revoke/").status_code == 404
    assert api_client.post(f"/api/v1/auth/tokens/{first.pk}/revoke/").status_code == 200
    assert api_client.get("/api/v1/auth/tokens/").status_code in (401, 403)  # that was the token in use


def test_tokens_are_stored_as_hashes():
    from canteen.accounts.services import _hash

    assert len(_hash("x")) == 64


# -- sessions ---------------------------------------------------------------------------------------


def test_an_idle_session_ends(world, client, settings):
    client.force_login(world.user(Role.GUARDIAN))
    assert client.get("/").status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = int(timezone.now().timestamp()) - settings.CANTEEN_SESSION_IDLE_SECONDS - 5
    session.save()
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_an_active_session_continues(world, client):
    client.force_login(world.user(Role.GUARDIAN))
    for _ in range(3):
        assert client.get("/").status_code == 200


def test_the_password_policy_refuses_short_and_common_passwords():
    for weak in ("canteen", "12345678901", "password123"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("食堂-明厨亮灶-2026-长密码")


# -- second factor ----------------------------------------------------------------------------------


@pytest.fixture
def otp_on(settings):
    settings.CANTEEN_OTP_REQUIRED = True
    # django-otp makes each attempt after a failure wait longer (1 s, 2 s, ...): not here.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.mark.parametrize("role", [Role.DISTRICT_REGULATOR, Role.CITY_REGULATOR, Role.SCHOOL_ADMIN])
def test_regulators_and_finance_roles_must_pass_a_second_factor(world, client, otp_on, role):
    client.force_login(world.user(role))
    page = client.get("/org/schools/")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/otp/")
    api = client.get("/api/v1/org/schools/")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "otp_required"


def test_a_guardian_needs_no_second_factor(world, client, otp_on):
    client.force_login(world.user(Role.GUARDIAN))
    assert client.get("/").status_code == 200


def test_first_sign_in_sets_up_totp_then_the_code_opens_the_pages(world, client, otp_on):
    user = world.user(Role.DISTRICT_REGULATOR)
    client.force_login(user)
    setup = client.get("/accounts/otp/?next=/org/schools/")
    assert setup.status_code == 200
    assert b'data-testid="otp-qr"' in setup.content
    device = services.totp_device_of(user, confirmed=False)
    assert client.post("/accounts/otp/", {"token": "000000", "next": "/org/schools/"}).status_code == 400
    done = client.post("/accounts/otp/", {"token": _code(device), "next": "/org/schools/"})
    assert done.status_code == 302
    assert done["Location"] == "/org/schools/"
    assert client.get("/org/schools/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_a_token_for_a_regulator_needs_the_current_code(world, api_client, otp_on):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = world.user(Role.DISTRICT_REGULATOR)
    device = TOTPDevice.objects.create(user=user, name="TOTP", confirmed=True)
    assert _token(api_client, user).json()["error"]["code"] == "otp_required"
    assert _token(api_client, user, otp="123").status_code == 400
    assert _token(api_client, user, otp=_code(device)).status_code == 201
