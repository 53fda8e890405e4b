"""The pages run under the Content-Security-Policy in a real browser: no violation reported."""

import pytest

from canteen.org.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/org/schools/",
    "/supervision/",
    "/supervision/bigscreen/",
    "/trace/codes/",
    "/procurement/demand/",
    "/api/docs/",
]


def test_pages_pass_the_content_security_policy(world, login, page, live_server):
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    user = world.user(Role.DISTRICT_REGULATOR)
    login(user.username, "pw-" + user.username)
    for path in PAGES:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status < 400, path
        policy = dict(part.split(" ", 1) for part in response.headers["content-security-policy"].split("; "))
        assert policy["script-src"].startswith("'self'")
        assert "unsafe-inline" not in policy["script-src"]
        if path.startswith("/supervision/"):  # pages with an inline script carry its nonce
            assert "'nonce-" in policy["script-src"]
        page.wait_for_load_state("networkidle")
    # The menu toggle and the group closing moved from inline handlers to ui.js: still working.
    page.goto(f"{live_server.url}/org/schools/")
    page.click("nav.mainnav summary >> nth=0")
    assert page.locator("details.navgroup[open]").count() == 1
    page.click("h1")
    assert page.locator("details.navgroup[open]").count() == 0
    assert violations == []
