import pytest

from canteen.org.choices import Role


@pytest.mark.django_db
def test_unauthenticated_api_calls_get_a_bilingual_error_body(api_client):
    response = api_client.get("/api/v1/org/schools/")
    assert response.status_code in (401, 403)
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message_zh"] == "请先登录"
    assert error["message_en"] == "Authentication required"


@pytest.mark.django_db
def test_token_auth_and_schema(world, api_client):
    user = world.user(Role.SCHOOL_ADMIN)
    response = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "pw-" + user.username})
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/org/me/").json()["role"] == "school_admin"
    schema = api_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/org/schools/" in schema.content
